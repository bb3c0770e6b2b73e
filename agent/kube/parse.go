package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// LoadConfig reads the cluster's address and credentials from kubeconfig
// ("" for $KUBECONFIG, ~/.kube/config, or the in-cluster service account
// when smp itself runs in a Pod) and returns them with the namespace its
// current context names ("default" when none).
func LoadConfig(kubeconfig string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, "", errors.New("no kubeconfig: give --kubeconfig, set KUBECONFIG or write ~/.kube/config")
		}
		return nil, "", err
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", err
	}
	return cfg, ns, nil
}

// CheckNamespace checks a namespace's name.
func CheckNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("%q is not a namespace name: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// ParseNodeSelector parses "k=v,k2=v2" (or several such) into a node
// selector, checking keys and values as Kubernetes labels.
func ParseNodeSelector(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range items {
		for _, kv := range strings.Split(item, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%q is not key=value", kv)
			}
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return nil, fmt.Errorf("label key %q: %s", k, strings.Join(errs, "; "))
			}
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				return nil, fmt.Errorf("label value %q: %s", v, strings.Join(errs, "; "))
			}
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ParseResources parses "cpu=500m,memory=256Mi" (or several such) into a
// resource list.
func ParseResources(items []string) (corev1.ResourceList, error) {
	out := corev1.ResourceList{}
	for _, item := range items {
		for _, kv := range strings.Split(item, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("%q is not name=quantity (e.g. cpu=500m, memory=256Mi)", kv)
			}
			if errs := validation.IsQualifiedName(k); len(errs) > 0 {
				return nil, fmt.Errorf("resource name %q: %s", k, strings.Join(errs, "; "))
			}
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %v", k, v, err)
			}
			if q.Sign() <= 0 {
				return nil, fmt.Errorf("%s=%s: must be positive", k, v)
			}
			out[corev1.ResourceName(k)] = q
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// TargetPrefixes are the networks that hold exactly the targets' addresses
// (a /32 or /128 for each address a target's host resolves to here): what
// the agents may send to when not told otherwise.
func TargetPrefixes(ctx context.Context, targets []string) ([]netip.Prefix, error) {
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, raw := range targets {
		host := raw
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			host = u.Hostname()
		} else if h, _, err := net.SplitHostPort(raw); err == nil {
			host = h
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			addrs = []netip.Addr{a}
		} else {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			addrs, err = net.DefaultResolver.LookupNetIP(rctx, "ip", host)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("target %s: %w", raw, err)
			}
		}
		for _, a := range addrs {
			a = a.Unmap()
			p := netip.PrefixFrom(a, a.BitLen())
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}
