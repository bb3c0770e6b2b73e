package target

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxStatsBody bounds what FetchStats and ResetRemoteArrivalGaps read: the
// target's answers are a few kilobytes.
const maxStatsBody = 1 << 20

// FetchStats reads GET /_smp/stats of a running target. base is the HTTP
// listener's URL ("http://127.0.0.1:8080") or just its host:port; client
// nil means http.DefaultClient (an https target needs a client that trusts
// its certificate, see Server.CertPEM).
func FetchStats(ctx context.Context, client *http.Client, base string) (Stats, error) {
	var st Stats
	err := callTarget(ctx, client, http.MethodGet, base, "/_smp/stats", "", &st)
	return st, err
}

// ResetRemoteArrivalGaps calls POST /_smp/stats/reset on a running target
// (started with --control, reached from loopback unless --control-remote)
// and returns the arrival gaps each listener held when it was reset. base
// and client are as for FetchStats; token is the target's control token
// (Server.ControlToken, --control-token, or the one it printed at start).
// Resetting before a run and again after it gives exactly the run's gaps.
func ResetRemoteArrivalGaps(ctx context.Context, client *http.Client, base, token string) (map[string]ArrivalGaps, error) {
	var r ArrivalGapsReset
	if err := callTarget(ctx, client, http.MethodPost, base, "/_smp/stats/reset", token, &r); err != nil {
		return nil, err
	}
	return r.ArrivalGaps, nil
}

func callTarget(ctx context.Context, client *http.Client, method, base, path, token string, into any) error {
	if client == nil {
		client = http.DefaultClient
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	url := strings.TrimRight(base, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return fmt.Errorf("target: %s %s: %w", method, url, err)
	}
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("target: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsBody))
	if err != nil {
		return fmt.Errorf("target: %s %s: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("target: %s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("target: %s %s: %w", method, url, err)
	}
	return nil
}
