package target

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
)

// serveHandler serves /_smp/ and /metrics through the http.Handler that
// also serves them over HTTP/2, buffering the response.
func (hc *h1conn) serveHandler() error {
	r := &hc.req
	body, err := readBody(hc.br, r, true, nil, maxControlBody, nil)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			hc.writeError(he)
		}
		return err
	}
	req, err := hc.httpRequest(body)
	if err != nil {
		hc.writeError(errBadRequest)
		return err
	}
	w := &bufferedResponse{header: http.Header{}}
	hc.s.handler.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Connection") == "close" {
		r.close = true
	}
	ct := w.header.Get("Content-Type")
	for _, k := range []string{"Connection", "Content-Length", "Transfer-Encoding", "Content-Type"} {
		w.header.Del(k)
	}
	var extra bytes.Buffer
	_ = w.header.Write(&extra)
	head := appendHead(nil, headOptions{
		status:        w.status,
		contentLength: w.buf.Len(),
		noBody:        noBodyStatus(w.status),
		close:         r.close,
		keepAlive10:   r.minor == 0,
		contentType:   ct,
		extra:         extra.Bytes(),
	})
	if _, err := hc.bw.Write(head); err != nil {
		return err
	}
	if !r.isMethod(http.MethodHead) && !noBodyStatus(w.status) {
		if _, err := hc.bw.Write(w.buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// httpRequest builds a net/http request from the parsed head.
func (hc *h1conn) httpRequest(body []byte) (*http.Request, error) {
	r := &hc.req
	target := string(r.bytes(r.target))
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(r.fields))
	for _, f := range r.fields {
		h.Add(string(r.bytes(f.name)), string(r.bytes(f.value)))
	}
	ctx := context.WithValue(hc.s.baseCtx, connKey{}, hc.raw)
	req := (&http.Request{
		Method:        string(r.bytes(r.method)),
		URL:           u,
		Proto:         "HTTP/1." + string(rune('0'+r.minor)),
		ProtoMajor:    1,
		ProtoMinor:    r.minor,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          string(r.bytes(r.host)),
		RemoteAddr:    hc.c.RemoteAddr().String(),
		RequestURI:    target,
	}).WithContext(ctx)
	if u.Host != "" {
		req.Host = u.Host
	}
	return req, nil
}

// bufferedResponse is the http.ResponseWriter of serveHandler.
type bufferedResponse struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferedResponse) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(p)
}
