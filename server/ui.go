package server

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
)

// The UI is plain HTML, CSS and JavaScript with no build step and nothing
// loaded from elsewhere: it works offline, and `go install` needs no
// Node.js.
//
//go:embed ui
var uiFiles embed.FS

func (s *Server) ui(mux *http.ServeMux) {
	sub, _ := fs.Sub(uiFiles, "ui")
	files := http.FileServerFS(sub)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("%s %s: the UI is read with GET", r.Method, r.URL.Path))
			return
		}
		// The pages are one document (index.html) routed by the URL's
		// fragment; nothing in it may come from another origin.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'")
		files.ServeHTTP(w, r)
	}))
}
