// Package kubernetes holds no code: deployment.yaml, the Dockerfile and
// README.md run examples/server on Kubernetes. This test keeps the manifest
// well-formed and its shutdown numbers consistent; examples/server's tests
// check that the program accepts its arguments. Nothing here can run a
// cluster.
package kubernetes

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The parts of the manifest the shutdown depends on.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec struct {
		// Deployment
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Name  string   `yaml:"name"`
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					ReadinessProbe *struct {
						HTTPGet struct {
							Path string `yaml:"path"`
							Port string `yaml:"port"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					Lifecycle *struct {
						PreStop any `yaml:"preStop"`
					} `yaml:"lifecycle"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`

		// Service (its selector is a plain map: read from the tree)
		Ports []struct {
			Name        string `yaml:"name"`
			Port        int    `yaml:"port"`
			TargetPort  string `yaml:"targetPort"`
			AppProtocol string `yaml:"appProtocol"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

// load decodes every document of deployment.yaml, as objects and as
// generic trees (for the Service's selector, a plain map there).
func load(t *testing.T) ([]object, []map[string]any) {
	t.Helper()
	data, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var objs []object
	var trees []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("deployment.yaml is not valid YAML: %v", err)
		}
		var o object
		if err := node.Decode(&o); err != nil {
			t.Fatalf("document %d: %v", len(objs)+1, err)
		}
		var tree map[string]any
		if err := node.Decode(&tree); err != nil {
			t.Fatal(err)
		}
		objs, trees = append(objs, o), append(trees, tree)
	}
	return objs, trees
}

// flags turns "-name=value" arguments into a map.
func flags(t *testing.T, args []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if !ok || !strings.HasPrefix(a, "-") {
			t.Fatalf("argument %q is not -name=value", a)
		}
		m[name] = value
	}
	return m
}

func TestManifest(t *testing.T) {
	objs, trees := load(t)
	if len(objs) != 2 || objs[0].Kind != "Deployment" || objs[0].APIVersion != "apps/v1" ||
		objs[1].Kind != "Service" || objs[1].APIVersion != "v1" {
		t.Fatalf("want an apps/v1 Deployment and a v1 Service, got %+v", objs)
	}
	dep, svc := objs[0], objs[1]
	pod := dep.Spec.Template
	for k, v := range dep.Spec.Selector.MatchLabels {
		if pod.Metadata.Labels[k] != v {
			t.Errorf("the Deployment's selector %s=%s does not match its pods", k, v)
		}
	}
	sel, _ := trees[1]["spec"].(map[string]any)["selector"].(map[string]any)
	if len(sel) == 0 {
		t.Fatal("the Service has no selector")
	}
	for k, v := range sel {
		if pod.Metadata.Labels[k] != v {
			t.Errorf("the Service's selector %s=%v does not match the pods", k, v)
		}
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	f := flags(t, c.Args)
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	port := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("address %q: %v", addr, err)
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	if port(f["addr"]) != ports["http"] || port(f["admin-addr"]) != ports["admin"] {
		t.Errorf("-addr %s and -admin-addr %s do not match the container ports %v", f["addr"], f["admin-addr"], ports)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("the Service must send its traffic to the http port only: %+v", svc.Spec.Ports)
	}

	// The readiness probe reads the endpoint that turns 503 at SIGTERM.
	if p := c.ReadinessProbe; p == nil || p.HTTPGet.Path != "/ready" || p.HTTPGet.Port != "admin" {
		t.Errorf("readiness probe %+v, want GET /ready on the admin port", p)
	}

	// The shutdown numbers.
	dur := func(name string) time.Duration {
		d, err := time.ParseDuration(f[name])
		if err != nil {
			t.Fatalf("-%s: %v", name, err)
		}
		return d
	}
	delay, spread, grace, budget := dur("deregistration-delay"), dur("spread"), dur("grace"), dur("termination-budget")
	tgps := pod.Spec.TerminationGracePeriodSeconds
	if tgps == nil {
		t.Fatal("terminationGracePeriodSeconds is not set; Kubernetes' 30s default is too short for this plan")
	}
	kill := time.Duration(*tgps) * time.Second
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		t.Error("a preStop hook: its time counts against terminationGracePeriodSeconds, and the README chose the in-process delay")
	}
	switch {
	case budget != kill:
		t.Errorf("-termination-budget %v is not terminationGracePeriodSeconds (%v)", budget, kill)
	case delay+grace >= kill:
		t.Errorf("-deregistration-delay %v + -grace %v does not fit in terminationGracePeriodSeconds %v", delay, grace, kill)
	case kill-(delay+grace) < 3*time.Second:
		t.Errorf("only %v between the grace deadline and SIGKILL: leave the process time to exit", kill-(delay+grace))
	case spread >= grace:
		t.Errorf("-spread %v must be below -grace %v", spread, grace)
	case delay < 5*time.Second:
		t.Errorf("-deregistration-delay %v is shorter than kube-proxy and load balancers take to notice", delay)
	}
	// README.md tells these numbers; keep it in step.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"terminationGracePeriodSeconds: 45", "-deregistration-delay=10s", "-spread=10s", "-grace=30s"} {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.md does not mention %s", want)
		}
	}
}
