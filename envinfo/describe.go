package envinfo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say what Describe looks at.
type Options struct {
	// Kubeconfig is the kubeconfig file; "" means $KUBECONFIG, then
	// ~/.kube/config. Rest, when set, is used instead (tests, in-cluster).
	Kubeconfig string
	Rest       *rest.Config
	// NoCluster skips the cluster and the mesh.
	NoCluster bool
	// TargetURLs are the endpoints under test: their host names find the
	// workloads behind them.
	TargetURLs []string
	// TargetNamespace is the namespace of a target given by a bare service
	// name; default "default".
	TargetNamespace string
	// Host says where the host's files are (tests).
	Host HostOptions
}

// Description is what Describe found, in SMP messages, and a capture entry
// for each part ("host", "cluster", "mesh") saying whether it worked.
type Description struct {
	Env        *spec.EnvironmentConfig
	Mesh       *spec.ServiceMesh
	MeshConfig *spec.ServiceMeshConfig
	Captures   []*spec.Capture
}

// Describe describes the host and, when a kubeconfig is found and answers,
// the cluster and its mesh. It never fails: a part that cannot be read is a
// capture with status "failed" or "skipped" and the reason.
func Describe(ctx context.Context, o Options) Description {
	d := Description{Env: &spec.EnvironmentConfig{}}
	h, missing := Host(o.Host)
	d.Env.Host = h
	hc := &spec.Capture{Name: "host", Status: "ok"}
	if len(missing) > 0 {
		hc.Status, hc.Reason = "partial", strings.Join(missing, "; ")
	}
	d.Captures = append(d.Captures, hc)
	if o.NoCluster {
		return d
	}
	cfg, err := restConfig(o)
	if err != nil {
		status := "failed"
		if errors.Is(err, errNoKubeconfig) {
			status = "skipped"
		}
		d.Captures = append(d.Captures,
			&spec.Capture{Name: "cluster", Status: status, Reason: err.Error()},
			&spec.Capture{Name: "mesh", Status: status, Reason: "no cluster: " + err.Error()})
		return d
	}
	c, err := newClient(cfg)
	if err != nil {
		d.Captures = append(d.Captures, &spec.Capture{Name: "cluster", Status: "failed", Reason: err.Error()})
		return d
	}
	cl := c.cluster(ctx, d.Env, o)
	d.Captures = append(d.Captures, cl)
	if cl.Status == "failed" {
		d.Captures = append(d.Captures, &spec.Capture{Name: "mesh", Status: "failed", Reason: "cluster unreachable"})
		return d
	}
	m := c.detect(ctx)
	d.Mesh, d.MeshConfig = m.Mesh(), m.Config()
	d.Captures = append(d.Captures, m.capture())
	return d
}

var errNoKubeconfig = errors.New("no kubeconfig: give --kubeconfig, set KUBECONFIG or write ~/.kube/config to describe a cluster")

func restConfig(o Options) (*rest.Config, error) {
	if o.Rest != nil {
		return rest.CopyConfig(o.Rest), nil
	}
	path := o.Kubeconfig
	if path == "" {
		path = os.Getenv("KUBECONFIG")
		if i := strings.IndexByte(path, os.PathListSeparator); i >= 0 {
			path = path[:i]
		}
	}
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, errNoKubeconfig
		}
		path = filepath.Join(home, ".kube", "config")
		if _, err := os.Stat(path); err != nil {
			return nil, errNoKubeconfig
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// requestTimeout bounds each API call, so that an unreachable cluster
// delays a run by seconds, not by TCP's minutes.
const requestTimeout = 5 * time.Second
