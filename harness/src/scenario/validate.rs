//! What the schema cannot say: cross-references inside a scenario, checked after parsing,
//! each problem placed on the line of the key that holds it.

use super::expect::{ExpectedOutcome, Target};
use super::load::{locate, File, Problem};
use super::names::{ImageHandle, LayerName, StoredName};
use crate::symbols::{scan, Symbol};
use rmispec_model::Profile;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn validate(file: &File, src: &str) -> Vec<Problem> {
    let mut v = Validator {
        src,
        problems: Vec::new(),
    };
    v.summary(file);
    let layers = v.images(file);
    v.containers(file, &layers);
    v.when(file, &layers);
    v.expect(file, &layers);
    v.problems.sort_by_key(|p| (p.line, p.column));
    v.problems
}

struct Validator<'a> {
    src: &'a str,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn report(&mut self, keys: &[&str], message: impl Into<String>) {
        let at = locate(self.src, keys);
        self.problems.push(Problem::at(at, message));
    }

    fn summary(&mut self, file: &File) {
        if file.summary.trim().is_empty() || file.summary.trim().contains('\n') {
            self.report(&["summary"], "`summary` must be one non-empty line");
        }
    }

    /// Checks images; returns every layer name in use (with `base`).
    fn images(&mut self, file: &File) -> BTreeSet<LayerName> {
        let images = &file.given.images;
        let handles = || {
            images
                .keys()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // name → (the layers below it, the image where first seen)
        let mut stacks: BTreeMap<LayerName, (Vec<LayerName>, &ImageHandle)> = BTreeMap::new();
        let mut full: BTreeMap<&ImageHandle, Vec<LayerName>> = BTreeMap::new();
        let mut tags: BTreeMap<&StoredName, &ImageHandle> = BTreeMap::new();
        for (i, (h, spec)) in images.iter().enumerate() {
            let key = |k: &'static str| ["given", "images", h.as_str(), k];
            let mut stack = vec![LayerName::base()];
            if let Some(p) = &spec.parent {
                match images.get_index_of(p) {
                    None => self.report(&key("parent"), format!("unknown parent `{p}`: the images are {}", handles())),
                    Some(j) if j >= i => self.report(
                        &key("parent"),
                        format!("parent `{p}` must come before `{h}`: `given.images` is in creation order"),
                    ),
                    Some(_) => stack = full.get(p).cloned().unwrap_or_default(),
                }
                if spec.layers.len() > 1 {
                    // moby@v20.10.24:image/tarexport/load.go#L400-L413 (checkValidParent)
                    self.report(
                        &key("layers"),
                        "a child adds at most one layer (one build step): Docker's `load` links a child to its \
                         parent only when the child's history is one entry longer",
                    );
                }
            }
            for layer in &spec.layers {
                if layer.is_base() {
                    self.report(
                        &key("layers"),
                        "`base` is the layer every image starts from; do not list it",
                    );
                    continue;
                }
                if layer.as_str() == "reg" {
                    self.report(
                        &key("layers"),
                        "`reg` is the registry's symbol; name the layer otherwise",
                    );
                }
                match stacks.get(layer) {
                    Some((below, first)) if *below != stack => self.report(
                        &key("layers"),
                        format!(
                            "layer `{layer}` sits on [{}] here but on [{}] in `{first}`: a layer name always sits on \
                             the same stack",
                            join(&stack),
                            join(below)
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        stacks.insert(layer.clone(), (stack.clone(), h));
                    }
                }
                stack.push(layer.clone());
            }
            full.insert(h, stack);
            for tag in &spec.tags {
                if let StoredName::Digested { of, .. } = tag {
                    if of != h {
                        self.report(
                            &key("tags"),
                            format!(
                                "digest reference `{tag}` names `{of}`'s manifest: an image's digest reference names \
                                 its own manifest, `<{h}.manifest>`"
                            ),
                        );
                    }
                }
                if let Some(other) = tags.insert(tag, h) {
                    let msg = if other == h {
                        format!("`{tag}` is listed twice")
                    } else {
                        format!(
                            "`{tag}` is already a name of `{other}`: a name points at one image"
                        )
                    };
                    self.report(&key("tags"), msg);
                }
            }
        }
        stacks.into_keys().chain([LayerName::base()]).collect()
    }

    fn containers(&mut self, file: &File, layers: &BTreeSet<LayerName>) {
        for (c, spec) in &file.given.containers {
            if !file.given.images.contains_key(&spec.image) {
                self.report(
                    &["given", "containers", c.as_str(), "image"],
                    format!("container `{c}` is on unknown image `{}`", spec.image),
                );
            }
            if c.as_str() == "reg" || layers.iter().any(|l| l.as_str() == c.as_str()) {
                self.report(
                    &["given", "containers", c.as_str()],
                    format!("container handle `{c}` is also a layer name or `reg`: `<{c}>` would be ambiguous"),
                );
            }
        }
    }

    fn when(&mut self, file: &File, layers: &BTreeSet<LayerName>) {
        if file.when.rmi.is_empty() && !file.when.all {
            self.report(
                &["when"],
                "`when` names no image: give `rmi` one name or a list, or `all: true`",
            );
        }
        for name in &file.when.rmi {
            self.symbols(file, layers, &["when", "rmi"], name);
        }
    }

    fn expect(&mut self, file: &File, layers: &BTreeSet<LayerName>) {
        for profile in Profile::ALL {
            let missing = file.expect.for_profile(profile).missing();
            if !missing.is_empty() {
                let mut from = vec!["`default`".to_owned(), format!("`{}`", profile.engine())];
                if profile.id() != profile.engine().id() {
                    from.push(format!("`{profile}`"));
                }
                self.report(
                    &["expect"],
                    format!(
                        "the expectation for `{profile}` has no {} (looked in {}); give it, or `skip: <reason>`",
                        missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                        from.join(", ")
                    ),
                );
            }
        }
        let entries = std::iter::once(("default", &file.expect.default)).chain(
            file.expect
                .overrides
                .iter()
                .map(|(t, o)| (Target::id(*t), o)),
        );
        for (key, outcome) in entries {
            self.outcome(file, layers, key, outcome);
        }
    }

    fn outcome(
        &mut self,
        file: &File,
        layers: &BTreeSet<LayerName>,
        key: &str,
        o: &ExpectedOutcome,
    ) {
        for r in o.records.iter().flatten() {
            self.symbols(file, layers, &["expect", key, "records"], r);
        }
        for e in o.errors.iter().flatten() {
            self.symbols(file, layers, &["expect", key, "errors"], &e.message);
        }
        let Some(after) = &o.after else { return };
        for (image, names) in &after.images {
            let at = ["expect", key, "after", "images", image.as_str()];
            let unknown_ok = image
                .strip_prefix("<?")
                .and_then(|s| s.strip_suffix('>'))
                .is_some_and(|num| {
                    num.parse::<usize>()
                        .is_ok_and(|n| n > 0 && n.to_string() == num)
                });
            if !unknown_ok && !file.given.images.keys().any(|h| h.as_str() == image) {
                self.report(&at, format!("`{image}` is not an image of `given` (nor `<?N>`, an image the scenario does not name)"));
            }
            for n in names {
                self.symbols(file, layers, &at, n);
            }
        }
        for c in after.containers.keys() {
            if !file.given.containers.contains_key(c) {
                self.report(
                    &["expect", key, "after", "containers", c.as_str()],
                    format!("`{c}` is not a container of `given`"),
                );
            }
        }
    }

    /// Checks that every symbol in `s` names something the scenario defines.
    fn symbols(&mut self, file: &File, layers: &BTreeSet<LayerName>, at: &[&str], s: &str) {
        let found = match scan(s) {
            Ok(f) => f,
            Err(e) => return self.report(at, e.to_string()),
        };
        for (range, symbol) in found {
            let known = match symbol {
                Symbol::Image { handle, .. } => {
                    file.given.images.keys().any(|h| h.as_str() == handle)
                }
                Symbol::Lower { name, .. } => {
                    file.given.containers.keys().any(|c| c.as_str() == name)
                        || layers.iter().any(|l| l.as_str() == name)
                }
                Symbol::Registry | Symbol::Unknown { .. } => true,
            };
            if !known {
                self.report(
                    at,
                    format!(
                        "`{}` names no image, container or layer of `given`",
                        &s[range]
                    ),
                );
            }
        }
    }
}

fn join(layers: &[LayerName]) -> String {
    layers
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
