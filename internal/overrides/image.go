package overrides

import (
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// imageRef is an image reference [registry/]repository[:tag][@digest].
type imageRef struct {
	registry   string
	repository string
	tag        string
	digest     string
}

// The grammar of image references, after the distribution project's.
var (
	hostLabel        = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)`
	hostRegexp       = regexp.MustCompile(`^(?:` + hostLabel + `(?:\.` + hostLabel + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	pathComponent    = `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
	repositoryRegexp = regexp.MustCompile(`^` + pathComponent + `(?:/` + pathComponent + `)*$`)
	tagRegexp        = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRegexp     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`)
)

// parseImage splits an image reference. The part before the first slash
// is the registry when it looks like a host: it contains a dot or a colon,
// or is localhost. So nginx and library/nginx have no registry, and
// docker.io/library/nginx has.
func parseImage(s string) (imageRef, error) {
	r, err := splitImage(s)
	if err != nil {
		return r, fmt.Errorf("image %q is not a valid image reference: %v", s, err)
	}
	return r, nil
}

// splitImage is parseImage with the bare reason of a failure.
func splitImage(s string) (imageRef, error) {
	var r imageRef
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		rest, r.digest = rest[:i], rest[i+1:]
		if !digestRegexp.MatchString(r.digest) {
			return r, fmt.Errorf("digest %q is not algorithm:hex", r.digest)
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, r.tag = rest[:i], rest[i+1:]
		if !tagRegexp.MatchString(r.tag) {
			return r, fmt.Errorf("tag %q is not letters, digits, _, . and - (at most 128)", r.tag)
		}
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		if first := rest[:i]; strings.ContainsAny(first, ".:") || first == "localhost" {
			r.registry, rest = first, rest[i+1:]
			if !hostRegexp.MatchString(r.registry) {
				return r, fmt.Errorf("registry %q is not a host[:port]", r.registry)
			}
		}
	}
	r.repository = rest
	if r.repository == "" {
		return r, fmt.Errorf("the repository is empty")
	}
	if !repositoryRegexp.MatchString(r.repository) {
		return r, fmt.Errorf("repository %q is not lowercase letters, digits and separators (. _ - /)", r.repository)
	}
	return r, nil
}

func (r imageRef) String() string {
	var b strings.Builder
	if r.registry != "" {
		b.WriteString(r.registry + "/")
	}
	b.WriteString(r.repository)
	if r.tag != "" {
		b.WriteString(":" + r.tag)
	}
	if r.digest != "" {
		b.WriteString("@" + r.digest)
	}
	return b.String()
}

// setTagOrDigest sets the tag, or the digest when v is one; each drops the
// other, since a digest pins what a tag names. A leading : or @ is ignored.
func (r *imageRef) setTagOrDigest(v string) error {
	v = strings.TrimLeft(v, ":@")
	switch {
	case digestRegexp.MatchString(v):
		r.tag, r.digest = "", v
	case tagRegexp.MatchString(v):
		r.tag, r.digest = v, ""
	default:
		return fmt.Errorf("%q is neither a tag (letters, digits, _, . and -) nor a digest (algorithm:hex)", v)
	}
	return nil
}

// overrideImage applies o to image. The semantics are Karmada's: add
// appends value to the component's text (so it sets a component that is
// empty), replace sets it, remove drops it.
func overrideImage(image string, o *policyv1alpha1.ImageOverrider) (string, error) {
	r, err := parseImage(image)
	if err != nil {
		return "", err
	}
	op := o.Operator
	if op != policyv1alpha1.OverriderOpRemove && o.Value == "" {
		return "", fmt.Errorf("%s needs a value", op)
	}
	switch o.Component {
	case policyv1alpha1.ImageComponentRegistry:
		switch op {
		case policyv1alpha1.OverriderOpAdd:
			r.registry += o.Value
		case policyv1alpha1.OverriderOpReplace:
			r.registry = o.Value
		case policyv1alpha1.OverriderOpRemove:
			r.registry = ""
		default:
			return "", fmt.Errorf("unknown operator %q: use add, remove or replace", op)
		}
	case policyv1alpha1.ImageComponentRepository:
		switch op {
		case policyv1alpha1.OverriderOpAdd:
			r.repository += o.Value
		case policyv1alpha1.OverriderOpReplace:
			r.repository = o.Value
		case policyv1alpha1.OverriderOpRemove:
			return "", fmt.Errorf("an image needs a repository: Repository cannot be removed, only replaced")
		default:
			return "", fmt.Errorf("unknown operator %q: use add, remove or replace", op)
		}
	case policyv1alpha1.ImageComponentTag:
		switch op {
		case policyv1alpha1.OverriderOpAdd:
			current := r.tag
			if current == "" {
				current = r.digest
			}
			if err := r.setTagOrDigest(current + o.Value); err != nil {
				return "", fmt.Errorf("adding %q to the tag of %q: %v", o.Value, image, err)
			}
		case policyv1alpha1.OverriderOpReplace:
			if err := r.setTagOrDigest(o.Value); err != nil {
				return "", fmt.Errorf("replacing the tag: %v", err)
			}
		case policyv1alpha1.OverriderOpRemove:
			if r.tag != "" {
				r.tag = ""
			} else {
				r.digest = ""
			}
		default:
			return "", fmt.Errorf("unknown operator %q: use add, remove or replace", op)
		}
	default:
		return "", fmt.Errorf("unknown component %q: use Registry, Repository or Tag", o.Component)
	}
	// The result must read back as an image, the way a container runtime
	// reads it: a registry added without a dot, such as test-repo, becomes
	// the first segment of the repository, which is just as good.
	out := r.String()
	if _, err := splitImage(out); err != nil {
		return "", fmt.Errorf("%s %s makes %q, which is not a valid image: %v", o.Component, op, out, err)
	}
	return out, nil
}

// applyImage applies one image overrider: to the image at its predicate's
// path, or to every container and init container image of the pod
// template.
func applyImage(obj *unstructured.Unstructured, o *policyv1alpha1.ImageOverrider) ([]string, error) {
	if o.Predicate != nil {
		return applyImageAt(obj, o)
	}
	spec, err := findPodSpec(obj)
	if err != nil {
		return nil, errorf("imageOverrider", "%v", err)
	}
	if spec == nil {
		return nil, nil
	}
	containers, err := spec.containers()
	if err != nil {
		return nil, errorf("imageOverrider", "%v", err)
	}
	var changes []string
	for _, c := range containers {
		path := c.fieldPath("image")
		raw, ok := c.m["image"]
		if !ok {
			continue
		}
		image, ok := raw.(string)
		if !ok {
			return nil, errorf("imageOverrider "+path, "the image is %s, not a string", typeName(raw))
		}
		newImage, err := overrideImage(image, o)
		if err != nil {
			return nil, errorf("imageOverrider "+path, "%v", err)
		}
		if newImage != image {
			c.m["image"] = newImage
			changes = append(changes, change(path, image, newImage))
		}
	}
	return changes, nil
}

// applyImageAt applies o to the image at o.Predicate.Path.
func applyImageAt(obj *unstructured.Unstructured, o *policyv1alpha1.ImageOverrider) ([]string, error) {
	what := "imageOverrider " + o.Predicate.Path
	tokens, err := parsePointer(o.Predicate.Path)
	if err != nil {
		return nil, errorf(what, "%v", err)
	}
	parentTokens, last := tokens[:len(tokens)-1], tokens[len(tokens)-1]
	parent, _ := lookup(obj.Object, parentTokens)
	raw, ok := lookup(obj.Object, tokens)
	if !ok {
		return nil, errorf(what, "predicate.path does not exist in the object")
	}
	image, ok := raw.(string)
	if !ok {
		return nil, errorf(what, "predicate.path points to %s, not an image string", typeName(raw))
	}
	newImage, err := overrideImage(image, o)
	if err != nil {
		return nil, errorf(what, "%v", err)
	}
	if newImage == image {
		return nil, nil
	}
	switch p := parent.(type) {
	case map[string]any:
		p[last] = newImage
	case []any:
		i, _ := arrayIndex(last, len(p))
		p[i] = newImage
	}
	return []string{change(fieldPath(tokens), image, newImage)}, nil
}
