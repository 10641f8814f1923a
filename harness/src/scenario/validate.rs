//! What the schema cannot say: cross-references inside a scenario, checked after parsing,
//! each problem placed on the key, list item or character that holds it.
//!
//! Problems with the same message are folded into one (at the first place, with a count),
//! and at most [`MAX_PROBLEMS`] distinct ones are listed: a 1 MB `rmi:` of 349,525 unknown
//! symbols is one line, not 349,525. Only listed problems are located, so the work stays
//! linear in the file's size however many problems it has.

use super::expect::{Expect, ExpectedOutcome, ExpectedRace, Target};
use super::file::File;
use super::names::StoredName;
use super::problem::{Problem, MAX_PROBLEMS};
use super::spans::{Pos, Spans};
use super::{MadeBy, Parallel, When};
use crate::handles::{ImageHandle, LayerName};
use crate::symbols::{scan, Symbol, SymbolError};
use rmispec_model::{ContainerState, Platform, Profile};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

pub(super) fn validate(file: &File, spans: &Spans) -> Vec<Problem> {
    let mut v = Validator {
        spans,
        problems: Vec::new(),
        seen: HashMap::new(),
        unlisted: 0,
    };
    v.summary(file);
    let layers = v.images(file);
    v.containers(file, &layers);
    v.pods(file, &layers);
    v.manifests(file);
    v.steps(file, &layers);
    v.finish()
}

struct Validator<'a> {
    spans: &'a Spans<'a>,
    /// Distinct problems, in the order found, each with how often it occurred.
    problems: Vec<(Problem, usize)>,
    /// Message → its entry in `problems`.
    seen: HashMap<String, usize>,
    /// Occurrences of problems past [`MAX_PROBLEMS`].
    unlisted: usize,
}

/// Where a problem is: computed only for a problem that is listed.
enum At<'p> {
    /// The key (or item) at the end of a path.
    Key(&'p [&'p str]),
    /// The symbol at `range` of the string `value` at the path.
    Within(&'p [&'p str], &'p str, Range<usize>),
}

impl Validator<'_> {
    fn report(&mut self, keys: &[&str], message: impl Into<String>) {
        self.report_at(At::Key(keys), message.into());
    }

    fn report_at(&mut self, at: At, message: String) {
        if let Some(&i) = self.seen.get(&message) {
            self.problems[i].1 += 1;
            return;
        }
        if self.problems.len() >= MAX_PROBLEMS {
            self.unlisted += 1;
            return;
        }
        let pos: Pos = match at {
            At::Key(keys) => self.spans.key(keys),
            At::Within(keys, value, range) => self.spans.within(keys, value, range),
        };
        self.seen.insert(message.clone(), self.problems.len());
        self.problems.push((Problem::at(Some(pos), message), 1));
    }

    /// The problems in file order, folded.
    fn finish(self) -> Vec<Problem> {
        let mut out: Vec<Problem> = self
            .problems
            .into_iter()
            .map(|(mut p, n)| {
                if n > 1 {
                    p.message = format!("{} ({n} times; the first is shown)", p.message);
                }
                p
            })
            .collect();
        out.sort_by_key(|p| (p.line, p.column));
        if self.unlisted > 0 {
            let last = out.last().map(|p| (p.line, p.column));
            out.push(Problem {
                line: last.and_then(|l| l.0),
                column: last.and_then(|l| l.1),
                message: format!(
                    "and {} more problems not listed (at most {MAX_PROBLEMS} distinct ones are)",
                    self.unlisted
                ),
            });
        }
        out
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
            self.platforms(file, h);
            self.made_by(file, h);
            for tag in &spec.tags {
                if tag.has_symbols() {
                    let text = tag.to_string();
                    for (_, symbol) in scan(&text).unwrap_or_default() {
                        if let Symbol::Image { handle, .. } = symbol {
                            if !images.keys().any(|h| h.as_str() == handle) {
                                self.report(
                                    &key("tags"),
                                    format!("`{tag}` names `<{handle}…>`, which is not an image of `given`: the images are {}", handles()),
                                );
                            }
                        }
                    }
                }
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

    /// `made_by`: `commit` exactly with a parent; `pull` needs a `<reg>` tag to pull by, and
    /// is a single-platform image without a parent.
    fn made_by(&mut self, file: &File, h: &ImageHandle) {
        let spec = &file.given.images[h];
        let key = ["given", "images", h.as_str(), "made_by"];
        match (spec.made_by, spec.parent.is_some()) {
            (Some(MadeBy::Commit), false) => {
                self.report(&key, "`made_by: commit` needs a `parent` to commit from")
            }
            (Some(MadeBy::Load | MadeBy::Pull), true) => self.report(
                &key,
                "an image with a `parent` is committed from it: `made_by` is `commit` or absent",
            ),
            (Some(MadeBy::Pull), false) => {
                if spec.pull_tag().is_none() {
                    self.report(
                        &key,
                        "`made_by: pull` pulls the image by its first `<reg>` tag, and it has none",
                    );
                }
                if spec.is_multi_platform() {
                    self.report(&key, "`made_by: pull` is for a single-platform image");
                }
            }
            _ => {}
        }
    }

    /// A multi-platform image: an index the synthesizer can make and every Docker store can
    /// load (the classic store loads `manifest.json`, i.e. the `linux/amd64` image only).
    fn platforms(&mut self, file: &File, h: &ImageHandle) {
        let spec = &file.given.images[h];
        let key = |k: &'static str| ["given", "images", h.as_str(), k];
        let amd64 = Platform::linux_amd64();
        if spec.platforms.is_empty() {
            if spec.content.is_some() {
                self.report(
                    &key("content"),
                    "`content` is for a multi-platform image: list its `platforms` too",
                );
            }
            return;
        }
        let mut seen = BTreeSet::new();
        for p in &spec.platforms {
            if !seen.insert(p) {
                self.report(&key("platforms"), format!("platform `{p}` is listed twice"));
            }
        }
        if !spec.platforms.contains(&amd64) {
            self.report(
                &key("platforms"),
                "a multi-platform image must hold `linux/amd64`: the engines run on amd64, and the classic store loads that platform only",
            );
        }
        if let Some(content) = &spec.content {
            for p in content {
                if !spec.platforms.contains(p) {
                    self.report(
                        &key("content"),
                        format!(
                            "`content` names `{p}`, which is not one of the image's `platforms` [{}]",
                            spec.platforms.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
            if !content.contains(&amd64) {
                self.report(
                    &key("content"),
                    "`content` must hold `linux/amd64`: the classic store loads that platform's image",
                );
            }
        }
        if spec.parent.is_some() || spec.id.is_some() {
            let k = if spec.parent.is_some() {
                "parent"
            } else {
                "id"
            };
            self.report(
                &key(k),
                "a multi-platform image has no `parent` or `id` prefix (the synthesizer does not make those)",
            );
        }
        if spec.tags.iter().any(|t| !t.is_tag()) {
            self.report(
                &key("tags"),
                "a multi-platform image has no digest references (the harness pushes single manifests only)",
            );
        }
        let children: Vec<&ImageHandle> = file
            .given
            .images
            .iter()
            .filter(|(_, s)| s.parent.as_ref() == Some(h))
            .map(|(c, _)| c)
            .collect();
        if let Some(c) = children.first() {
            self.report(
                &key("platforms"),
                format!("a multi-platform image is nobody's parent, but `{c}` names it"),
            );
        }
    }

    fn containers(&mut self, file: &File, layers: &BTreeSet<LayerName>) {
        for (c, spec) in &file.given.containers {
            if !file.given.images.contains_key(&spec.image) {
                self.report(
                    &["given", "containers", c.as_str(), "image"],
                    format!("container `{c}` is on unknown image `{}`", spec.image),
                );
            }
            for (i, m) in spec.mounts.iter().enumerate() {
                if !file.given.images.contains_key(m) {
                    self.report(
                        &["given", "containers", c.as_str(), "mounts", &i.to_string()],
                        format!("container `{c}` mounts unknown image `{m}`"),
                    );
                }
            }
            if c.as_str() == "reg" || layers.iter().any(|l| l.as_str() == c.as_str()) {
                self.report(
                    &["given", "containers", c.as_str()],
                    format!("container handle `{c}` is also a layer name or `reg`: `<{c}>` would be ambiguous"),
                );
            }
        }
    }

    /// `given.pods`: a handle of its own; an infra container of `given.containers` that is
    /// nobody else's infra, in no pod of its own, mounting nothing and not paused; members
    /// made after their pod's infra container, and started only while it runs (starting a
    /// member starts the infra container, so anything else could not be built).
    fn pods(&mut self, file: &File, layers: &BTreeSet<LayerName>) {
        let given = &file.given;
        let order: HashMap<&str, usize> = given
            .containers
            .keys()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        let mut infras: BTreeMap<&str, &str> = BTreeMap::new();
        for (p, spec) in &given.pods {
            let key = ["given", "pods", p.as_str()];
            if p.as_str() == "reg"
                || order.contains_key(p.as_str())
                || layers.iter().any(|l| l.as_str() == p.as_str())
            {
                self.report(
                    &key,
                    format!("pod handle `{p}` is also a container handle, a layer name or `reg`: `<{p}>` would be ambiguous"),
                );
            }
            let infra_key = ["given", "pods", p.as_str(), "infra"];
            let Some(infra) = given.containers.get(&spec.infra) else {
                self.report(
                    &infra_key,
                    format!(
                        "pod `{p}`'s infra container `{}` is not in `given.containers`",
                        spec.infra
                    ),
                );
                continue;
            };
            if let Some(other) = infras.insert(spec.infra.as_str(), p.as_str()) {
                self.report(
                    &infra_key,
                    format!(
                        "container `{}` is the infra container of both `{other}` and `{p}`",
                        spec.infra
                    ),
                );
            }
            let c = spec.infra.as_str();
            if infra.pod.is_some() {
                self.report(
                    &["given", "containers", c, "pod"],
                    format!("container `{c}` is pod `{p}`'s infra container: it takes no `pod:`"),
                );
            }
            if !infra.mounts.is_empty() {
                self.report(
                    &["given", "containers", c, "mounts"],
                    format!(
                        "container `{c}` is pod `{p}`'s infra container, which mounts no images"
                    ),
                );
            }
            if infra.state == ContainerState::Paused {
                self.report(
                    &["given", "containers", c, "state"],
                    format!("container `{c}` is pod `{p}`'s infra container: `running`, `stopped` or `created`, not `paused`"),
                );
            }
        }
        for (c, spec) in &given.containers {
            let Some(p) = &spec.pod else { continue };
            let key = ["given", "containers", c.as_str(), "pod"];
            let Some(pod) = given.pods.get(p) else {
                self.report(&key, format!("container `{c}` is in unknown pod `{p}`"));
                continue;
            };
            let Some(infra) = given.containers.get(&pod.infra) else {
                continue;
            };
            if order[pod.infra.as_str()] > order[c.as_str()] {
                self.report(
                    &key,
                    format!("container `{c}` is listed before `{}`, the infra container of its pod `{p}`, which is made with the pod", pod.infra),
                );
            }
            if spec.state != ContainerState::Created && infra.state != ContainerState::Running {
                self.report(
                    &key,
                    format!("container `{c}` is started, which starts its pod's infra container `{}`: that one must be `running`", pod.infra),
                );
            }
        }
    }

    /// `given.manifests`: a handle of its own, known images, plain tags that no image or other
    /// list holds.
    fn manifests(&mut self, file: &File) {
        let given = &file.given;
        let mut seen: BTreeMap<&StoredName, &ImageHandle> = BTreeMap::new();
        for (h, spec) in &given.images {
            for t in &spec.tags {
                seen.entry(t).or_insert(h);
            }
        }
        for (l, spec) in &given.manifests {
            let key = |k: &'static str| ["given", "manifests", l.as_str(), k];
            if given.images.contains_key(l) {
                self.report(
                    &["given", "manifests", l.as_str()],
                    format!("manifest list `{l}` has the handle of an image: `<{l}>` would be ambiguous"),
                );
            }
            if spec.tags.is_empty() {
                self.report(
                    &key("tags"),
                    format!("manifest list `{l}` needs a name (`podman manifest create <name>`)"),
                );
            }
            for (i, t) in spec.tags.iter().enumerate() {
                let at = ["given", "manifests", l.as_str(), "tags", &i.to_string()];
                if !t.is_tag() || t.has_symbols() {
                    self.report(
                        &at,
                        format!(
                            "manifest list `{l}`: `{t}` must be a plain tag (`localhost/ml:1`)"
                        ),
                    );
                } else if let Some(other) = seen.get(t) {
                    self.report(
                        &at,
                        format!("manifest list `{l}`: `{t}` is already a name of `{other}`"),
                    );
                } else {
                    seen.insert(t, l);
                }
            }
            if spec.images.is_empty() {
                self.report(
                    &key("images"),
                    format!("manifest list `{l}` lists no image"),
                );
            }
            for (i, m) in spec.images.iter().enumerate() {
                if !given.images.contains_key(m) {
                    self.report(
                        &["given", "manifests", l.as_str(), "images", &i.to_string()],
                        format!("manifest list `{l}` lists unknown image `{m}`"),
                    );
                }
            }
        }
    }

    /// The request form: `when` with `expect`, or `steps` (a non-empty list of both), never
    /// both forms; then each step's request and expectation, at its own keys.
    fn steps(&mut self, file: &File, layers: &BTreeSet<LayerName>) {
        if let Some(requests) = &file.parallel {
            self.parallel(file, layers, requests);
            return;
        }
        for (target, d) in &file.divergence {
            if !d.also.is_empty() {
                self.report(
                    &["divergence", target.id(), "also"],
                    "`also` lists outcomes of requests sent at once: it belongs to a `parallel` scenario",
                );
            }
        }
        if file.runs.is_some() {
            self.report(
                &["runs"],
                "`runs` belongs beside `parallel`: it says how many times a live engine races the requests",
            );
        }
        match (&file.steps, &file.when, &file.expect) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                let key = if file.when.is_some() {
                    "when"
                } else {
                    "expect"
                };
                self.report(
                    &[key],
                    "a scenario has either `when` and `expect` (one request) or `steps` (a list of `{when, expect}`), \
                     not both",
                );
                return;
            }
            (Some(steps), None, None) if steps.is_empty() => {
                self.report(
                    &["steps"],
                    "`steps` is empty: give it at least one `{when, expect}`",
                );
                return;
            }
            (None, None, _) => {
                self.report(
                    &[],
                    "missing field `when` (or `steps`: a list of `{when, expect}`)",
                );
                return;
            }
            (None, Some(_), None) => {
                self.report(&["when"], "missing field `expect` beside `when`");
                return;
            }
            _ => {}
        }
        let sequence = file.steps.is_some();
        for (i, step) in file.steps().iter().enumerate() {
            let index = i.to_string();
            let prefix: Vec<&str> = if sequence {
                vec!["steps", &index]
            } else {
                Vec::new()
            };
            let base: Vec<&str> = prefix.iter().copied().chain(["when"]).collect();
            self.when(file, layers, &base, &step.when);
            self.expect(file, layers, &prefix, &step.expect);
        }
    }

    /// Requests sent at once: two to [`Parallel::MAX_REQUESTS`] of them, with `expect` (whose
    /// entries give `one_of`, each with one answer per request), and `runs` in range.
    fn parallel(&mut self, file: &File, layers: &BTreeSet<LayerName>, requests: &[When]) {
        for (key, there) in [
            ("when", file.when.is_some()),
            ("steps", file.steps.is_some()),
        ] {
            if there {
                self.report(
                    &[key],
                    "a scenario has one of `when` (one request), `steps` (a sequence) or `parallel` (requests sent at once), \
                     not several",
                );
            }
        }
        if !(2..=Parallel::MAX_REQUESTS).contains(&requests.len()) {
            self.report(
                &["parallel"],
                format!(
                    "`parallel` sends 2 to {} requests at once (the model checks every order), not {}",
                    Parallel::MAX_REQUESTS,
                    requests.len()
                ),
            );
        }
        if let Some(runs) = file.runs {
            if !(1..=Parallel::MAX_RUNS).contains(&runs) {
                self.report(
                    &["runs"],
                    format!("`runs` is 1 to {}, not {runs}", Parallel::MAX_RUNS),
                );
            }
        }
        for (i, when) in requests.iter().enumerate() {
            let index = i.to_string();
            self.when(file, layers, &["parallel", &index], when);
        }
        for (target, d) in &file.divergence {
            let key = target.id();
            if d.also.is_empty() {
                self.report(
                    &["divergence", key],
                    "a divergence of requests sent at once names the outcomes it accepts beyond the model's: give `also`, a list of `one_of` items",
                );
            }
            self.races(
                file,
                layers,
                &["divergence", key, "also"],
                &d.also,
                requests.len(),
            );
        }
        let Some(expect) = &file.expect else {
            self.report(&["parallel"], "missing field `expect` beside `parallel`");
            return;
        };
        let lacking: Vec<String> = Profile::ALL
            .into_iter()
            .filter(|p| !expect.for_profile(*p).missing_of_parallel().is_empty())
            .map(|p| format!("`{p}`"))
            .collect();
        if !lacking.is_empty() {
            self.report(
                &["expect"],
                format!(
                    "no `one_of` (the outcomes requests sent at once may have) for {}: give it, or `skip: <reason>`",
                    lacking.join(", ")
                ),
            );
        }
        let entries = std::iter::once(("default", &expect.default))
            .chain(expect.overrides.iter().map(|(t, o)| (Target::id(*t), o)));
        for (key, outcome) in entries {
            for (field, there) in [
                ("records", outcome.records.is_some()),
                ("errors", outcome.errors.is_some()),
                ("status", outcome.status.is_some()),
                ("after", outcome.after.is_some()),
            ] {
                if there {
                    self.report(
                        &["expect", key, field],
                        format!(
                            "`{field}` of requests sent at once belongs in each `one_of` item (`answers`, one per request, and `after`)"
                        ),
                    );
                }
            }
            let races = outcome.one_of.as_deref().unwrap_or_default();
            self.races(
                file,
                layers,
                &["expect", key, "one_of"],
                races,
                requests.len(),
            );
        }
    }

    /// Outcomes of requests sent at once at `at` (`expect.default.one_of`,
    /// `divergence.docker-classic.also`): one answer per request each, symbols that name
    /// something.
    fn races(
        &mut self,
        file: &File,
        layers: &BTreeSet<LayerName>,
        at: &[&str],
        races: &[ExpectedRace],
        requests: usize,
    ) {
        for (k, race) in races.iter().enumerate() {
            let k = k.to_string();
            let item: Vec<&str> = at.iter().copied().chain([k.as_str()]).collect();
            if race.answers.len() != requests {
                let keys: Vec<&str> = item.iter().copied().chain(["answers"]).collect();
                self.report(
                    &keys,
                    format!(
                        "{} answers for {requests} requests: give one per request of `parallel`, in its order",
                        race.answers.len(),
                    ),
                );
            }
            for i in 0..race.answers.len() {
                let mut answer = race.answer(i);
                answer.after = None;
                let i = i.to_string();
                let keys: Vec<&str> = item.iter().copied().chain(["answers", &i]).collect();
                self.outcome(file, layers, &keys, &answer);
            }
            let after = ExpectedOutcome {
                after: Some(race.after.clone()),
                ..ExpectedOutcome::default()
            };
            self.outcome(file, layers, &item, &after);
        }
    }

    /// A request at `base` (`when`, `steps.1.when`, `parallel.0`).
    fn when(&mut self, file: &File, layers: &BTreeSet<LayerName>, base: &[&str], when: &When) {
        let at = |rest: &[&str]| -> Vec<String> {
            base.iter().chain(rest).map(|s| (*s).to_owned()).collect()
        };
        if when.rmi.is_empty() && !when.all {
            let keys = at(&[]);
            self.report(
                &keys.iter().map(String::as_str).collect::<Vec<_>>(),
                "`when` names no image: give `rmi` one name or a list, or `all: true`",
            );
        }
        for (i, name) in when.rmi.iter().enumerate() {
            let keys = at(&["rmi", &i.to_string()]);
            self.symbols(
                file,
                layers,
                &keys.iter().map(String::as_str).collect::<Vec<_>>(),
                name,
            );
        }
    }

    fn expect(
        &mut self,
        file: &File,
        layers: &BTreeSet<LayerName>,
        prefix: &[&str],
        expect: &Expect,
    ) {
        let expect_key: Vec<&str> = prefix.iter().copied().chain(["expect"]).collect();
        for profile in Profile::ALL {
            let missing = expect.for_profile(profile).missing();
            if !missing.is_empty() {
                let mut from = vec!["`default`".to_owned(), format!("`{}`", profile.engine())];
                if profile.id() != profile.engine().id() {
                    from.push(format!("`{profile}`"));
                }
                self.report(
                    &expect_key,
                    format!(
                        "the expectation for `{profile}` has no {} (looked in {}); give it, or `skip: <reason>`",
                        missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                        from.join(", ")
                    ),
                );
            }
        }
        let entries = std::iter::once(("default", &expect.default))
            .chain(expect.overrides.iter().map(|(t, o)| (Target::id(*t), o)));
        for (key, outcome) in entries {
            if outcome.one_of.is_some() {
                let at: Vec<&str> = expect_key.iter().copied().chain([key, "one_of"]).collect();
                self.report(
                    &at,
                    "`one_of` is the outcome of requests sent at once: it belongs to a `parallel` scenario",
                );
            }
            let entry: Vec<&str> = expect_key.iter().copied().chain([key]).collect();
            self.outcome(file, layers, &entry, outcome);
        }
    }

    /// The symbols and handles of an expected outcome at `entry` (`expect.default`,
    /// `steps.1.expect.cri-containerd`, `expect.default.one_of.0.answers.1`).
    fn outcome(
        &mut self,
        file: &File,
        layers: &BTreeSet<LayerName>,
        entry: &[&str],
        o: &ExpectedOutcome,
    ) {
        let path = |rest: &[&str]| -> Vec<String> {
            entry.iter().chain(rest).map(|s| (*s).to_owned()).collect()
        };
        fn refs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        for (i, r) in o.records.iter().flatten().enumerate() {
            let at = path(&["records", &i.to_string()]);
            self.symbols(file, layers, &refs(&at), r);
        }
        for (i, e) in o.errors.iter().flatten().enumerate() {
            let at = path(&["errors", &i.to_string(), "message"]);
            self.symbols(file, layers, &refs(&at), &e.message);
        }
        let Some(after) = &o.after else { return };
        for (image, names) in &after.images {
            let at = path(&["after", "images", image.as_str()]);
            let unknown_ok = image
                .strip_prefix("<?")
                .and_then(|s| s.strip_suffix('>'))
                .is_some_and(|num| {
                    num.parse::<usize>()
                        .is_ok_and(|n| n > 0 && n.to_string() == num)
                });
            let known = file
                .given
                .images
                .keys()
                .chain(file.given.manifests.keys())
                .any(|h| h.as_str() == image);
            if !unknown_ok && !known {
                self.report(&refs(&at), format!("`{image}` is not an image of `given`, nor one of its manifest lists (nor `<?N>`, an image the scenario does not name)"));
            }
            for (i, n) in names.iter().enumerate() {
                let item = path(&["after", "images", image.as_str(), &i.to_string()]);
                self.symbols(file, layers, &refs(&item), n);
            }
        }
        for c in after.containers.keys() {
            if !file.given.containers.contains_key(c) {
                let at = path(&["after", "containers", c.as_str()]);
                self.report(&refs(&at), format!("`{c}` is not a container of `given`"));
            }
        }
    }

    /// Checks that every symbol in `s` names something the scenario defines, each problem at
    /// its symbol.
    fn symbols(&mut self, file: &File, layers: &BTreeSet<LayerName>, at: &[&str], s: &str) {
        for range in candidates(s) {
            let text = &s[range.clone()];
            let symbol = match scan(text) {
                Ok(found) => match found.into_iter().next() {
                    Some((_, symbol)) => symbol,
                    None => continue,
                },
                Err(e) => {
                    let mut message = e.to_string();
                    if matches!(e, SymbolError::Malformed(_)) && too_long_prefix(text) {
                        message.push_str(" (a prefix is 1 to 64 hex characters: a digest has 64)");
                    }
                    self.report_at(At::Within(at, s, range), message);
                    continue;
                }
            };
            let known = match symbol {
                Symbol::Image { handle, .. } => file
                    .given
                    .images
                    .keys()
                    .chain(file.given.manifests.keys())
                    .any(|h| h.as_str() == handle),
                Symbol::Lower { name, .. } => {
                    file.given.containers.keys().any(|c| c.as_str() == name)
                        || file.given.pods.keys().any(|p| p.as_str() == name)
                        || layers.iter().any(|l| l.as_str() == name)
                }
                Symbol::Registry | Symbol::Unknown { .. } => true,
            };
            if !known {
                let message =
                    format!("`{text}` names no image, container, pod or layer of `given`");
                self.report_at(At::Within(at, s, range), message);
            }
        }
    }
}

/// The byte ranges of `s` that [`scan`] would read as symbols: `<`, a letter or `?`, symbol
/// characters, `>`. Found in one pass (each `<` looks ahead only over symbol characters, which
/// exclude `<`), so that a string of many `<` costs linear time; `scan` itself looks for a `>`
/// from every `<`. Each range is then given to `scan` alone, which also lets every malformed
/// symbol of a string be reported, not just the first.
fn candidates(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let is_symbol_char =
        |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'?' | b'-');
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<'
            || !b
                .get(i + 1)
                .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'?')
        {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && is_symbol_char(b[j]) {
            j += 1;
        }
        if b.get(j) == Some(&b'>') {
            out.push(i..j + 1);
            i = j + 1;
        } else {
            i = j.max(i + 1);
        }
    }
    out
}

/// Whether a malformed symbol asks for a prefix longer than a digest (`<A:65>`).
fn too_long_prefix(text: &str) -> bool {
    text.trim_end_matches('>')
        .rsplit_once(':')
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .is_some_and(|n| n > 64)
}

fn join(layers: &[LayerName]) -> String {
    layers
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
