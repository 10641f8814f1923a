//! The laws: what holds for every store and request, per engine, and where it does not.
//!
//! Each [`Law`] names the profiles it does **not** hold for, with the reason (upstream cited).
//! The property tests check it on every other profile; the exhaustive check also asserts that
//! each excluded profile really breaks it somewhere in its bounds, so an exclusion that has
//! become stale fails the build just as a broken law does.

use rmispec_model::engine::listing;
use rmispec_model::{
    remove, Engine, ErrorKind, Image, Outcome, Profile, Record, Reference, Request, Store,
};
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};

use super::spec::{Shown, UNKNOWN};

/// One request on one profile, and what the model answered.
#[derive(Clone, Copy)]
pub struct Case<'a> {
    /// The engine at a version.
    pub profile: Profile,
    /// The store before.
    pub store: &'a Store,
    /// The request.
    pub request: &'a Request,
    /// What the model answered.
    pub outcome: &'a Outcome,
    /// Outcomes already computed for this profile and store, by request: the exhaustive check
    /// visits the forced and unpruned variants of a request anyway.
    pub memo: Option<&'a Memo>,
    /// What the exhaustive check computes once for every request of this store and profile,
    /// and this case's place in it (see [`Table`]). Without it, every law computes what it
    /// needs itself, as the property tests and the baseline checker do.
    pub table: Option<(&'a Table<'a>, usize)>,
    /// Whether a failing law says why ([`Case::fails`]). The exhaustive checker asks only for
    /// the first failure of each law and profile, by checking that case again with it set:
    /// the excluded laws fail millions of times in its bounds, and formatting each reason
    /// was a tenth of its time.
    pub explain: bool,
}

/// Outcomes by request, for one profile and store.
pub type Memo = RefCell<HashMap<String, Outcome>>;

/// Every request of one store on one profile, with its outcome, and what the laws derive from
/// an outcome alone, each computed at most once per answer: what the request took from the
/// store ([`Gone`]), whether it left the store as it was, the listing verdict for the store it
/// left, and what the same request answers there.
///
/// The laws ask the same questions of many cases (the forced variant of a request is itself a
/// case; most requests change nothing; requests that differ only in a flag the engine does not
/// read get one answer, `follow::answered_alike`), so sharing the answers is where the
/// exhaustive check's time goes; the answers are the same values a law computes without the
/// table.
pub struct Table<'a> {
    /// The store.
    pub store: &'a Store,
    /// The requests, as the enumeration makes them.
    pub requests: &'a [Request],
    /// The answers, each with what is derived from it.
    answers: Vec<Answer>,
    /// For each request, the index of its answer.
    of: Vec<usize>,
    /// For each request, the first request answered alike (`follow::answered_alike`).
    alike: Vec<usize>,
    /// The index of the same request with force, and with prune, where there is one.
    pub variants: &'a [Variants],
    unchanged_listing: OnceCell<Verdict>,
}

/// One answer of a [`Table`], and what the laws derive from it alone.
struct Answer {
    outcome: Outcome,
    /// Whether the store after is the store before.
    unchanged: bool,
    gone: OnceCell<Gone>,
    listing: OnceCell<Verdict>,
    /// What the same request (any request with this answer) answers on the store it left.
    again: OnceCell<Outcome>,
    /// What the same request with each [`Flag`] set took, where the table has no such
    /// request.
    with: [OnceCell<Gone>; 2],
}

/// A flag the laws compare a request with and without.
#[derive(Clone, Copy, Debug)]
pub enum Flag {
    /// `force`.
    Force = 0,
    /// `prune`.
    Prune = 1,
}

impl Flag {
    fn set(self, r: &mut Request) {
        match self {
            Flag::Force => r.force = true,
            Flag::Prune => r.prune = true,
        }
    }

    /// Where [`Variants`] says the request with the flag set is.
    fn variant(self, v: &Variants) -> Option<usize> {
        match self {
            Flag::Force => v.forced,
            Flag::Prune => v.pruned,
        }
    }
}

/// Where the forced and the pruned variant of a request are in its store's request list.
#[derive(Clone, Copy, Debug, Default)]
pub struct Variants {
    /// The same request with `force` set.
    pub forced: Option<usize>,
    /// The same request with `prune` set.
    pub pruned: Option<usize>,
}

impl Variants {
    /// For every request of `requests`, where its variants are.
    pub fn of(requests: &[Request]) -> Vec<Variants> {
        let key = |r: &Request| (r.names.clone(), r.force, r.prune, r.ignore, r.all);
        let at: HashMap<_, usize> = requests
            .iter()
            .enumerate()
            .map(|(k, r)| (key(r), k))
            .collect();
        requests
            .iter()
            .map(|r| Variants {
                forced: at.get(&key(&with(r, |r| r.force = true))).copied(),
                pruned: at.get(&key(&with(r, |r| r.prune = true))).copied(),
            })
            .collect()
    }
}

impl<'a> Table<'a> {
    /// The table of `requests` on `store`: `alike[k]` is the first request answered as
    /// request `k` is (`k` itself or an earlier one, `follow::answered_alike`), and `answer`
    /// gives the outcomes of the requests that are their own, in order.
    pub fn new(
        store: &'a Store,
        requests: &'a [Request],
        alike: &[usize],
        variants: &'a [Variants],
        answer: impl FnOnce(&mut dyn Iterator<Item = &'a Request>) -> Vec<Outcome>,
    ) -> Self {
        let mut of = Vec::with_capacity(requests.len());
        let mut own = 0;
        for (k, &a) in alike.iter().enumerate() {
            if a < k {
                of.push(of[a]);
            } else {
                of.push(own);
                own += 1;
            }
        }
        let mut owners = requests
            .iter()
            .enumerate()
            .filter(|&(k, _)| alike[k] == k)
            .map(|(_, r)| r);
        let answers: Vec<Answer> = answer(&mut owners)
            .into_iter()
            .map(|outcome| Answer {
                unchanged: outcome.after == *store,
                outcome,
                gone: OnceCell::new(),
                listing: OnceCell::new(),
                again: OnceCell::new(),
                with: Default::default(),
            })
            .collect();
        assert_eq!(answers.len(), own, "one answer per request that is its own");
        Table {
            store,
            requests,
            answers,
            of,
            alike: alike.to_vec(),
            variants,
            unchanged_listing: OnceCell::new(),
        }
    }

    /// The outcome of request `k`.
    pub fn outcome(&self, k: usize) -> &Outcome {
        &self.answers[self.of[k]].outcome
    }

    fn answer(&self, k: usize) -> &Answer {
        &self.answers[self.of[k]]
    }

    /// What request `k` took.
    fn gone(&self, k: usize) -> Gone {
        let a = self.answer(k);
        if a.unchanged {
            return Gone::default();
        }
        *a.gone
            .get_or_init(|| Gone::between(self.store, &a.outcome.after))
    }
}

/// Either a value a [`Table`] holds or one computed for the case at hand.
pub enum Shared<'t, T> {
    /// Held by the table.
    Held(&'t T),
    /// Computed now.
    Owned(T),
}

impl<T> std::ops::Deref for Shared<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Shared::Held(t) => t,
            Shared::Owned(t) => t,
        }
    }
}

impl Case<'_> {
    /// What this case's request took from the store.
    fn gone(&self) -> Gone {
        match self.table {
            Some((t, k)) => t.gone(k),
            None => Gone::between(self.store, &self.outcome.after),
        }
    }

    /// What the same request with `flag` set took, on the same store and profile: the
    /// table's variant of the request if the enumeration has one, else computed once for
    /// every request with this answer (requests answered alike are answered alike with the
    /// flag set too, `follow::answered_alike`).
    fn gone_with(&self, flag: Flag) -> Gone {
        let set = |r: &mut Request| flag.set(r);
        let Some((t, k)) = self.table else {
            let other = self.rerun(&with(self.request, set));
            return Gone::between(self.store, &other.after);
        };
        // The variant of the first request answered alike is answered as this one's would be.
        let first = t.alike[k];
        if let Some(j) = flag
            .variant(&t.variants[k])
            .or_else(|| flag.variant(&t.variants[first]))
        {
            return t.gone(j);
        }
        *t.answer(k).with[flag as usize].get_or_init(|| {
            let other = remove(self.profile, self.store, &with(self.request, set));
            Gone::between(self.store, &other.after)
        })
    }

    /// What the same profile answers to the same request on the store this one left.
    fn again(&self) -> Shared<'_, Outcome> {
        let Some((t, k)) = self.table else {
            return Shared::Owned(remove(self.profile, &self.outcome.after, self.request));
        };
        // Same profile, same store, same request: the outcome already computed (the model is
        // a function; the memo above relies on that too). A request answered alike on one
        // store is answered alike on every store (`follow::answered_alike`), so the answer
        // holds what the second run of any of its requests gives.
        let a = t.answer(k);
        if a.unchanged {
            return Shared::Held(self.outcome);
        }
        Shared::Held(
            a.again
                .get_or_init(|| remove(self.profile, &a.outcome.after, self.request)),
        )
    }

    /// Whether the request left the store as it was.
    fn unchanged(&self) -> bool {
        match self.table {
            Some((t, k)) => t.answer(k).unchanged,
            None => self.outcome.after == *self.store,
        }
    }

    /// [`THE_LISTING_SHOWS_EVERY_IMAGE_LEFT`]'s verdict: it depends on the profile and the
    /// store after only, so the table holds it once for every request that left the store as
    /// it was, and once per answer for the others.
    fn listing_verdict(&self) -> Verdict {
        let Some((t, k)) = self.table else {
            return listing_shows_every_image_left(self, &self.outcome.after);
        };
        let a = t.answer(k);
        let cell = if a.unchanged {
            &t.unchanged_listing
        } else {
            &a.listing
        };
        cell.get_or_init(|| listing_shows_every_image_left(self, &a.outcome.after))
            .clone()
    }

    /// What the same profile answers to another request on the same store.
    fn rerun(&self, request: &Request) -> Outcome {
        let Some(memo) = self.memo else {
            return remove(self.profile, self.store, request);
        };
        let key = format!("{request:?}");
        if let Some(o) = memo.borrow().get(&key) {
            return o.clone();
        }
        let o = remove(self.profile, self.store, request);
        memo.borrow_mut().insert(key, o.clone());
        o
    }

    /// The case as a scenario-like text, with the outcome.
    pub fn show(&self) -> String {
        let o = self.outcome;
        let records: Vec<String> = o.records.iter().map(|r| self.sym(&r.to_string())).collect();
        let errors: Vec<String> = o
            .errors
            .iter()
            .map(|e| format!("{:?}: {}", e.kind, self.sym(&e.message)))
            .collect();
        format!(
            "profile: {}\n{}\noutcome:\n  records: {records:?}\n  errors: {errors:?}\n  status: {}\nafter:\n{}",
            self.profile,
            Shown(self.store, Some(self.request), self.store),
            o.status,
            self.sym(&Shown(&o.after, None, self.store).to_string()),
        )
    }

    fn sym(&self, s: &str) -> String {
        super::spec::symbolize(self.store, s)
    }
}

/// What a law says about one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It holds.
    Holds,
    /// The case is outside what the law speaks about.
    NotApplicable,
    /// It is broken, and why.
    Fails(String),
}

impl Case<'_> {
    /// The law fails here, for the reason `why` gives (not asked for unless
    /// [`explain`](Case::explain) is set: then the reason is empty).
    fn fails(&self, why: impl FnOnce() -> String) -> Verdict {
        Verdict::Fails(if self.explain { why() } else { String::new() })
    }

    /// Holds if `ok`, else [`fails`](Case::fails) for the reason `why` gives.
    fn check(&self, ok: bool, why: impl FnOnce() -> String) -> Verdict {
        if ok {
            Verdict::Holds
        } else {
            self.fails(why)
        }
    }
}

/// A law.
pub struct Law {
    /// Its name, which is also its test's name.
    pub name: &'static str,
    /// What it says, in a sentence.
    pub statement: &'static str,
    /// Checks one case.
    pub check: fn(&Case) -> Verdict,
    /// The profiles it does not hold for, and why.
    pub excluded: &'static [(Profile, &'static str)],
}

impl Law {
    /// Whether the law is meant to hold for `profile`.
    pub fn holds_for(&self, profile: Profile) -> bool {
        !self.excluded.iter().any(|(p, _)| *p == profile)
    }
}

/// The profiles the laws are checked on: all of them.
pub const LANDED: &[Profile] = &Profile::ALL;

// ---------------------------------------------------------------------------------------------
// How each engine spells what it reports.

/// How `profile` spells an `Untagged:` name: Docker shows familiar names
/// (`moby/moby@v20.10.24:daemon/images/image_delete.go#L98-L111`, `reference.FamiliarString`),
/// libimage and libpod the fully qualified one (`containers/common@v0.50.1:libimage/image.go`).
pub fn untagged_spelling(profile: Profile, reference: &Reference) -> String {
    match profile.engine() {
        Engine::DockerClassic | Engine::DockerContainerd => reference.familiar(),
        _ => reference.full(),
    }
}

/// Whether an `Untagged:` record of `profile` reports the removal of `reference`.
///
/// Mostly the record is [`untagged_spelling`]. docker-classic echoes the name *as asked*:
/// `removeImageRef` deletes `TagNameOnly(input)` from the reference store, which favours the
/// digest of a `name:tag@digest` input, and the record is `FamiliarString` of the input itself
/// (`moby/moby@v20.10.24:daemon/images/image_delete.go#L98-L111`, `reference/store.go`
/// `favorDigest`); so `Untagged: app:9@sha256:…` reports the removal of `app@sha256:…`.
pub fn untagged_reports(profile: Profile, record: &str, reference: &Reference) -> bool {
    if is_untagged_spelling(profile, reference, record) {
        return true;
    }
    profile.engine() == Engine::DockerClassic
        && record.split_once('@').is_some_and(|(name, digest)| {
            name.rsplit_once(':').is_some_and(|(base, tag)| {
                !tag.contains('/')
                    && is_untagged_spelling(profile, reference, &format!("{base}@{digest}"))
            })
        })
}

/// Whether `s` is [`untagged_spelling`] of `reference`, without building it (the laws ask
/// for every record and name of every case).
pub fn is_untagged_spelling(profile: Profile, reference: &Reference, s: &str) -> bool {
    let docker = matches!(
        profile.engine(),
        Engine::DockerClassic | Engine::DockerContainerd
    );
    let repo = reference.repo();
    if !docker || &*repo.domain != "docker.io" {
        return reference.is_full(s);
    }
    // Docker's familiar spelling of a docker.io name: the path, without `library/` when
    // what is left has no `/`.
    let path = repo
        .path
        .strip_prefix("library/")
        .filter(|p| !p.contains('/'))
        .unwrap_or(&repo.path);
    let Some(rest) = s.strip_prefix(path) else {
        return false;
    };
    match reference {
        Reference::Tagged { tag, .. } => rest.strip_prefix(':') == Some(&**tag),
        Reference::Digested { digest, .. } => {
            digest.is_prefixed(rest.strip_prefix('@').unwrap_or(""))
        }
    }
}

/// How `profile` spells the `Deleted:` record of an image: `sha256:<config>` on
/// docker-classic, `sha256:<manifest>` on docker-containerd (its image ID is the target
/// digest), bare config hex on Podman. CRI reports nothing.
pub fn deleted_spelling(profile: Profile, image: &Image) -> Option<String> {
    match profile.engine() {
        Engine::DockerClassic => Some(image.config.prefixed()),
        Engine::DockerContainerd => Some(image.manifest.prefixed()),
        Engine::CriContainerd => None,
        Engine::PodmanLibimage | Engine::LibpodLegacy => Some(image.config.hex().to_owned()),
    }
}

/// Whether `record` is [`deleted_spelling`] of `image`, without building it.
pub fn is_deleted_spelling(profile: Profile, image: &Image, record: &str) -> bool {
    match profile.engine() {
        Engine::DockerClassic => image.config.is_prefixed(record),
        Engine::DockerContainerd => image.manifest.is_prefixed(record),
        Engine::CriContainerd => false,
        Engine::PodmanLibimage | Engine::LibpodLegacy => image.config.hex() == record,
    }
}

/// The ID `profile` knows an image by.
pub fn engine_id(profile: Profile, image: &Image) -> &rmispec_model::Digest {
    if profile.engine() == Engine::DockerContainerd {
        &image.manifest
    } else {
        &image.config
    }
}

// ---------------------------------------------------------------------------------------------
// Store diffs.

/// What a request took from a store: one bit per (image, name) pair and one per image of the
/// store before, in the store's order (image 0's names, image 0, image 1's names, …).
///
/// A set of small integers rather than of readable lines: the laws compare what two requests
/// took (force, prune) and ask which images lost names, on every case of the exhaustive
/// check, and the lines ([`Gone::lines`]) are wanted only when a law fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gone(u128);

impl Gone {
    /// What went from `before` to `after`: a name whose image is left without it, an image
    /// no longer there (with all its names).
    pub fn between(before: &Store, after: &Store) -> Gone {
        if before == after {
            return Gone(0);
        }
        let mut bits = 0u128;
        for (image, at) in slots(before) {
            match after.image(&image.config) {
                None => bits |= ((1u128 << (image.refs.len() + 1)) - 1) << at,
                Some(left) => {
                    for (n, r) in image.refs.iter().enumerate() {
                        if !left.refs.contains(r) {
                            bits |= 1 << (at + n);
                        }
                    }
                }
            }
        }
        Gone(bits)
    }

    /// Whether nothing went.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// What went here and not in `other`.
    pub fn minus(self, other: Gone) -> Gone {
        Gone(self.0 & !other.0)
    }

    /// Whether name `n` of the image at slot `at` ([`slots`]) went.
    fn name_went(self, at: usize, n: usize) -> bool {
        self.0 & (1 << (at + n)) != 0
    }

    /// How many images lost at least one name (or went whole with some).
    pub fn images_untagged(self, before: &Store) -> usize {
        slots(before)
            .filter(|(image, at)| (0..image.refs.len()).any(|n| self.name_went(*at, n)))
            .count()
    }

    /// What went, as readable lines: `<name> of <image:3>`, `image <image:3>`.
    pub fn lines(self, before: &Store) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (image, at) in slots(before) {
            let id = image.config.short(3);
            for (n, r) in image.refs.iter().enumerate() {
                if self.name_went(at, n) {
                    out.insert(format!("{} of {id}", r.full()));
                }
            }
            if self.0 & (1 << (at + image.refs.len())) != 0 {
                out.insert(format!("image {id}"));
            }
        }
        out
    }
}

/// Each image of `store` with the first bit of its slot in a [`Gone`].
fn slots(store: &Store) -> impl Iterator<Item = (&Image, usize)> {
    let bits: usize = store.images.iter().map(|i| i.refs.len() + 1).sum();
    assert!(
        bits <= 128,
        "a store too big for `Gone`: {bits} names and images"
    );
    store.images.iter().scan(0, |next, image| {
        let at = *next;
        *next += image.refs.len() + 1;
        Some((image, at))
    })
}

/// What went: names and images, as one set of readable lines ([`Gone::lines`]).
fn removed(before: &Store, after: &Store) -> BTreeSet<String> {
    Gone::between(before, after).lines(before)
}

fn with(request: &Request, change: impl FnOnce(&mut Request)) -> Request {
    let mut r = request.clone();
    change(&mut r);
    r
}

// ---------------------------------------------------------------------------------------------
// The laws.

const CRI_REPORTS_NOTHING: &str =
    "CRI's RemoveImageResponse is an empty message: nothing is reported \
    (containerd/containerd@v1.7.24:pkg/cri/server/image_remove.go#L66)";
const CRI_NO_CONTAINER_CHECK: &str = "CRI removes an image whatever uses it; kubelet's image GC, not the \
    runtime, keeps in-use images (containerd/containerd@v1.7.24:pkg/cri/server/image_remove.go#L36-L67, \
    critest TestContainerLifecycleWithoutImageRef)";
const CRI_WHOLE_IMAGE: &str = "CRI removes the whole image whichever of its names it is given \
    (containerd/containerd@v1.7.24:pkg/cri/server/image_remove.go#L33-L35, L49-L66)";

const PODMAN_CHILDREN_UNREPORTED: &str = "libimage deletes the record of an image that has children but does not \
    mark it removed, so only `Untagged:` lines are printed (containers/common@v0.50.1:libimage/image.go#L451-L488; \
    @v0.62.3 alike)";
const LIBPOD_PARENTS_PRINTED_BARE: &str = "legacy libpod prunes untagged parents after a removal and prints each \
    pruned ID with a bare fmt.Println, not as a `Deleted:` record (containers/podman@v3.0.1:libpod/image/image.go \
    Remove; @v1.9.3:libpod/image/image.go#L410-L440)";
const DK_DANGLING_KEPT_BUT_DELETED: &str = "docker-containerd keeps a `moby-dangling@` record for an image whose \
    last name goes while classic-builder children remain, yet `deleteAll` still reports `Deleted:` for it \
    (moby/moby@v26.1.5:daemon/containerd/image_delete.go#L373-L389, L239-L240)";
const LIBPOD_CONTAINERS_BEFORE_CHILDREN: &str = "legacy libpod removes the image's containers (force) before it \
    checks for child images, so a forced removal refused for dependent children has already removed them \
    (containers/podman@v3.0.1:libpod/runtime_img.go#L42-L93; @v1.9.3 L40-L84)";
const LIBPOD19_STORAGE_CONTAINERS: &str = "libpod 1.9.3 removes containers first only for an image with at most one \
    name; forced by ID, a multi-name image goes to img.Remove, which on ErrImageUsedByContainer deletes the \
    containers' storage (rmStorageContainers) and removes the image, leaving the libpod container running \
    (containers/podman@v1.9.3:libpod/runtime_img.go#L50-L60, L86-L99, L105-L121)";
const DIGEST_FOUND_BY_SAME_REPO: &str = "a digest reference is also found by the image's manifest digest when the \
    image has a name in the same repository; once its digest name is untagged, a remaining tag of that repository \
    lets the same input find the image again, and then it goes whole or loses that tag \
    (containers/common@v0.62.3:libimage/runtime.go#L476-L533; legacy libpod through the storage transport, \
    containers/podman@v3.0.1:libpod/image/image.go#L406-L500, @v1.9.3:libpod/image/image.go#L235-L296)";
const PODMAN_PARENT_IN_USE: &str = "after removing an image, libimage prunes its dangling parent with the same \
    options; a parent used by a container makes that step fail (exit 2) after the image itself is gone \
    (containers/common@v0.50.1:libimage/image.go#L490-L513, @v0.62.3 alike)";
const DK_PARENT_WALK_FAILS: &str = "docker-containerd prunes parents by walking the classic-builder parent labels; \
    if an ancestor is already gone (force deleted it for an earlier name), the walk errors, the error is only \
    logged, and nothing is pruned, where without force the parents went \
    (moby/moby@v26.1.5:daemon/containerd/image_children.go parents, image_delete.go deleteAll L195-L257)";
const DK_DIGEST_REACHES_DANGLING: &str = "a digest reference resolves by target digest, which also reaches the \
    `moby-dangling@` record the first request kept for an image with children: getSameReferences always keeps \
    dangling records, so the second request deletes the image (moby/moby@v26.1.5:daemon/containerd/image_delete.go\
    #L77-L117, L283-L336)";
const PODMAN43_DIGEST_ANY_REPO: &str = "libimage 0.50.1 finds a digest reference by the image's digest in any \
    repository (lookupImageInDigestsAndRepoTags): once the digest name is untagged, the same input finds the \
    image again and, with one name left, removes it whole (containers/common@v0.50.1:libimage/runtime.go#L420-L490; \
    hardened in v0.62.3)";

/// Every `Untagged:` record names a name the store had before and has no more.
pub const UNTAGGED_RECORDS_NAME_NAMES_THAT_WENT: Law = Law {
    name: "untagged_records_name_names_that_went",
    statement: "every `Untagged:` record names (in the engine's spelling) a name the store had and no longer has",
    check: |case| {
        if case.outcome.records.is_empty() {
            return Verdict::Holds;
        }
        let gone = case.gone();
        for record in &case.outcome.records {
            let Record::Untagged(name) = record else { continue };
            let went = slots(case.store).any(|(i, at)| {
                i.refs.iter().enumerate().any(|(n, r)| gone.name_went(at, n) && untagged_reports(case.profile, name, r))
            });
            if !went {
                return case.fails(|| format!("`Untagged: {name}` names no name that went"));
            }
        }
        Verdict::Holds
    },
    excluded: &[],
};

/// Every `Deleted:` record names an image (or, on docker-classic, a layer) that went.
pub const DELETED_RECORDS_NAME_IMAGES_THAT_WENT: Law = Law {
    name: "deleted_records_name_images_that_went",
    statement: "every `Deleted:` record names an image that was there and is gone \
                (on docker-classic also a layer no image holds any more)",
    check: |case| {
        let after = &case.outcome.after;
        for record in &case.outcome.records {
            let Record::Deleted(id) = record else {
                continue;
            };
            let image_went = case.store.images.iter().any(|i| {
                is_deleted_spelling(case.profile, i, id) && after.image(&i.config).is_none()
            });
            let layer_went = case.profile.engine() == Engine::DockerClassic
                && case
                    .store
                    .images
                    .iter()
                    .flat_map(|i| &i.layers)
                    .any(|l| l.is_prefixed(id))
                && !after
                    .images
                    .iter()
                    .flat_map(|i| &i.layers)
                    .any(|l| l.is_prefixed(id));
            if !(image_went || layer_went) {
                return case.fails(|| format!("`Deleted: {id}` names nothing that went"));
            }
        }
        Verdict::Holds
    },
    excluded: &[
        (Profile::DockerContainerd, DK_DANGLING_KEPT_BUT_DELETED),
        (Profile::DockerContainerd28, DK_DANGLING_KEPT_BUT_DELETED),
    ],
};

/// Every name that went has an `Untagged:` record, every image that went a `Deleted:` one.
pub const EVERY_CHANGE_IS_REPORTED: Law = Law {
    name: "every_change_is_reported",
    statement: "every name that went has an `Untagged:` record and every image that went a `Deleted:` record",
    check: |case| {
        // Nothing went.
        if case.unchanged() {
            return Verdict::Holds;
        }
        let records = &case.outcome.records;
        let after = &case.outcome.after;
        for image in &case.store.images {
            let left = after.image(&image.config);
            for r in &image.refs {
                let went = left.is_none_or(|l| !l.refs.contains(r));
                let reported = || records
                    .iter()
                    .any(|rec| matches!(rec, Record::Untagged(n) if untagged_reports(case.profile, n, r)));
                if went && !reported() {
                    return case.fails(|| {
                        let record = Record::Untagged(untagged_spelling(case.profile, r));
                        format!("{} went without `{record}`", r.full())
                    });
                }
            }
            let deleted = || records
                .iter()
                .any(|rec| matches!(rec, Record::Deleted(id) if is_deleted_spelling(case.profile, image, id)));
            if left.is_none() && !deleted() {
                return case.fails(|| format!("image {} went without a `Deleted:` record", image.config.short(3)));
            }
        }
        Verdict::Holds
    },
    excluded: &[
        (Profile::Cri17, CRI_REPORTS_NOTHING),
        (Profile::Cri21, CRI_REPORTS_NOTHING),
        (Profile::Cri16, CRI_REPORTS_NOTHING),
        (Profile::Podman43, PODMAN_CHILDREN_UNREPORTED),
        (Profile::Podman54, PODMAN_CHILDREN_UNREPORTED),
        (Profile::Podman58, PODMAN_CHILDREN_UNREPORTED),
        (Profile::Libpod301, LIBPOD_PARENTS_PRINTED_BARE),
        (Profile::Libpod19, LIBPOD_PARENTS_PRINTED_BARE),
    ],
};

/// A request for one name that fails leaves the store as it was.
pub const A_FAILED_ONE_NAME_REQUEST_CHANGES_NOTHING: Law = Law {
    name: "a_failed_one_name_request_changes_nothing",
    statement: "a request for one name that reports an error leaves the store as it was",
    check: |case| {
        if case.request.names.len() != 1 || case.request.all || case.outcome.is_ok() {
            return Verdict::NotApplicable;
        }
        case.check(case.unchanged(), || {
            format!(
                "failed, yet removed {:?}",
                removed(case.store, &case.outcome.after)
            )
        })
    },
    excluded: &[
        (Profile::Podman43, PODMAN_PARENT_IN_USE),
        (Profile::Podman54, PODMAN_PARENT_IN_USE),
        (Profile::Podman58, PODMAN_PARENT_IN_USE),
        (Profile::Libpod301, LIBPOD_CONTAINERS_BEFORE_CHILDREN),
        (Profile::Libpod19, LIBPOD_CONTAINERS_BEFORE_CHILDREN),
    ],
};

/// No container whose process exists (running or paused) is left on an image that went.
pub const NO_RUNNING_CONTAINER_IS_LEFT_WITHOUT_ITS_IMAGE: Law = Law {
    name: "no_running_container_is_left_without_its_image",
    statement: "a running or paused container that is still there afterwards still has its image \
                if it had it before (with or without force; engines that remove containers remove \
                them first)",
    check: |case| {
        let after = &case.outcome.after;
        for c in after.containers.iter().filter(|c| c.state.runs()) {
            // A store a forced step left can hold a container whose image already went.
            if after.image(&c.image).is_none() && case.store.image(&c.image).is_some() {
                return case
                    .fails(|| format!("running container {} lost its image", c.id.short(3)));
            }
        }
        Verdict::Holds
    },
    excluded: &[
        (Profile::Cri17, CRI_NO_CONTAINER_CHECK),
        (Profile::Cri21, CRI_NO_CONTAINER_CHECK),
        (Profile::Cri16, CRI_NO_CONTAINER_CHECK),
        (Profile::Libpod19, LIBPOD19_STORAGE_CONTAINERS),
    ],
};

/// Without force, no container at all is left on an image that went.
pub const WITHOUT_FORCE_NO_CONTAINER_IS_LEFT_WITHOUT_ITS_IMAGE: Law = Law {
    name: "without_force_no_container_is_left_without_its_image",
    statement: "without force, every container left afterwards, in any state, still has its image \
                if it had it before",
    check: |case| {
        if case.request.force {
            return Verdict::NotApplicable;
        }
        let after = &case.outcome.after;
        for c in &after.containers {
            // A store a forced step left can hold a container whose image already went.
            if after.image(&c.image).is_none() && case.store.image(&c.image).is_some() {
                return case.fails(|| format!("container {} lost its image", c.id.short(3)));
            }
        }
        Verdict::Holds
    },
    excluded: &[
        (Profile::Cri17, CRI_NO_CONTAINER_CHECK),
        (Profile::Cri21, CRI_NO_CONTAINER_CHECK),
        (Profile::Cri16, CRI_NO_CONTAINER_CHECK),
    ],
};

/// Containers are never added, and the ones left are unchanged.
pub const CONTAINERS_ARE_NEVER_ADDED_OR_CHANGED: Law = Law {
    name: "containers_are_never_added_or_changed",
    statement:
        "the containers afterwards are some of the containers before, in order, each unchanged",
    check: |case| {
        let mut before = case.store.containers.iter();
        for c in &case.outcome.after.containers {
            if !before.any(|b| b == c) {
                return case
                    .fails(|| format!("container {} is new, changed or moved", c.id.short(3)));
            }
        }
        Verdict::Holds
    },
    excluded: &[],
};

/// A pod goes whole or not at all.
pub const A_POD_GOES_WHOLE_OR_NOT_AT_ALL: Law = Law {
    name: "a_pod_goes_whole_or_not_at_all",
    statement: "afterwards a pod is there exactly when its infra container is, and no container \
                of a pod that went is left (libpod removes an infra container only with its pod)",
    check: |case| {
        let after = &case.outcome.after;
        for pod in &case.store.pods {
            let kept = after.pods.contains(pod);
            let infra = after.containers.iter().any(|c| c.id == pod.infra);
            if kept != infra {
                return case.fails(|| {
                    format!(
                        "pod {} is {} but its infra container is {}",
                        pod.id.short(3),
                        if kept { "there" } else { "gone" },
                        if infra { "there" } else { "gone" }
                    )
                });
            }
            let orphan = after
                .containers
                .iter()
                .find(|c| c.pod.as_ref() == Some(&pod.id));
            if let (false, Some(c)) = (kept, orphan) {
                return case.fails(|| {
                    format!(
                        "pod {} went but its container {} is left",
                        pod.id.short(3),
                        c.id.short(3)
                    )
                });
            }
        }
        Verdict::Holds
    },
    excluded: &[],
};

/// Only Podman (libimage or legacy libpod) with force removes containers.
pub const ONLY_FORCED_PODMAN_REMOVES_CONTAINERS: Law = Law {
    name: "only_forced_podman_removes_containers",
    statement: "containers go only when Podman (libimage or legacy libpod) is asked with force",
    check: |case| {
        let podman = matches!(
            case.profile.engine(),
            Engine::PodmanLibimage | Engine::LibpodLegacy
        );
        let went = case.outcome.after.containers.len() < case.store.containers.len();
        case.check(!went || (podman && case.request.force), || {
            "containers went".into()
        })
    },
    excluded: &[],
};

/// Force removes everything the same request without force removes, and maybe more.
pub const FORCE_DOES_AT_LEAST_WHAT_NO_FORCE_DOES: Law = Law {
    name: "force_does_at_least_what_no_force_does",
    statement: "the names and images a request removes without force, it also removes with force",
    check: |case| {
        if case.request.force {
            return Verdict::NotApplicable;
        }
        let plain = case.gone();
        if plain.is_empty() {
            return Verdict::Holds;
        }
        let missing = plain.minus(case.gone_with(Flag::Force));
        case.check(missing.is_empty(), || {
            format!("with force, {:?} stay", missing.lines(case.store))
        })
    },
    excluded: &[
        (Profile::DockerContainerd, DK_PARENT_WALK_FAILS),
        (Profile::DockerContainerd28, DK_PARENT_WALK_FAILS),
    ],
};

/// `noprune` removes nothing that prune would not.
pub const NOPRUNE_DOES_AT_MOST_WHAT_PRUNE_DOES: Law = Law {
    name: "noprune_does_at_most_what_prune_does",
    statement: "the names and images a request removes with noprune, it also removes with prune",
    check: |case| {
        if case.request.prune {
            return Verdict::NotApplicable;
        }
        let plain = case.gone();
        if plain.is_empty() {
            return Verdict::Holds;
        }
        let missing = plain.minus(case.gone_with(Flag::Prune));
        case.check(missing.is_empty(), || {
            format!("with prune, {:?} stay", missing.lines(case.store))
        })
    },
    excluded: &[],
};

/// Asking for one of an image's several tags, fully qualified, never deletes the image.
pub const UNTAGGING_ONE_OF_SEVERAL_TAGS_KEEPS_THE_IMAGE: Law = Law {
    name: "untagging_one_of_several_tags_keeps_the_image",
    statement:
        "a request for one fully qualified tag of an image with two or more tags removes that tag \
                and keeps the image",
    check: |case| {
        let [name] = case.request.names.as_slice() else {
            return Verdict::NotApplicable;
        };
        if case.request.all {
            return Verdict::NotApplicable;
        }
        let Some(image) = case
            .store
            .images
            .iter()
            .find(|i| i.refs.iter().any(|r| r.is_tag() && r.is_full(name)))
        else {
            return Verdict::NotApplicable;
        };
        if image.refs.iter().filter(|r| r.is_tag()).count() < 2 {
            return Verdict::NotApplicable;
        }
        match case.outcome.after.image(&image.config) {
            None => case.fails(|| "the image went".into()),
            Some(left) => case.check(!left.refs.iter().any(|r| r.is_full(name)), || {
                "the tag stayed".into()
            }),
        }
    },
    excluded: &[
        (Profile::Cri17, CRI_WHOLE_IMAGE),
        (Profile::Cri21, CRI_WHOLE_IMAGE),
        (Profile::Cri16, CRI_WHOLE_IMAGE),
    ],
};

/// A request for names nothing answers to changes nothing and reports nothing but not-found.
pub const AN_UNKNOWN_NAME_CHANGES_NOTHING: Law = Law {
    name: "an_unknown_name_changes_nothing",
    statement: "a request whose names all resolve to nothing leaves the store as it was, reports no record, \
                and any error it reports is not-found",
    check: |case| {
        if case.request.all || !case.request.names.iter().all(|n| UNKNOWN.contains(&n.as_str())) {
            return Verdict::NotApplicable;
        }
        let o = case.outcome;
        if !case.unchanged() || !o.records.is_empty() {
            return case.fails(|| "something changed or was reported".into());
        }
        case.check(o.errors.iter().all(|e| e.kind == ErrorKind::NotFound), || "an error other than not-found".into())
    },
    excluded: &[],
};

/// Whether `name` is a full ID or a stored name spelled in full: names that cannot fall back
/// to another image once what they named is gone.
fn is_exact(store: &Store, name: &str) -> bool {
    rmispec_model::Digest::parse(name).is_ok()
        || store
            .images
            .iter()
            .any(|i| i.refs.iter().any(|r| r.is_full(name)))
}

/// Asked again, a request for one full ID or fully qualified name changes nothing more.
pub const A_SECOND_IDENTICAL_REQUEST_CHANGES_NOTHING: Law = Law {
    name: "a_second_identical_request_changes_nothing",
    statement:
        "repeating a request for one full ID or fully qualified stored name on the store it left \
                changes nothing more",
    check: |case| {
        // With several names, a later name can unblock an earlier one (a child deleted after
        // its parent was refused), so a second run may rightly do more.
        let [name] = case.request.names.as_slice() else {
            return Verdict::NotApplicable;
        };
        if case.request.all || !is_exact(case.store, name) {
            return Verdict::NotApplicable;
        }
        let again = case.again();
        let same = matches!(again, Shared::Held(o) if std::ptr::eq(o, case.outcome))
            || again.after == case.outcome.after;
        case.check(same, || {
            format!(
                "the second request removed {:?}",
                removed(&case.outcome.after, &again.after)
            )
        })
    },
    excluded: &[
        (Profile::DockerContainerd, DK_DIGEST_REACHES_DANGLING),
        (Profile::DockerContainerd28, DK_DIGEST_REACHES_DANGLING),
        (Profile::Podman43, PODMAN43_DIGEST_ANY_REPO),
        (Profile::Podman54, DIGEST_FOUND_BY_SAME_REPO),
        (Profile::Podman58, DIGEST_FOUND_BY_SAME_REPO),
        // Legacy libpod finds a loaded image by its manifest digest only while a digest name
        // records it (`engines/libpod_legacy.rs`): a second digest name in another repository
        // is what breaks the law, and the exhaustive bounds' name pool has none
        // (`check::SHOWN_BY_SAMPLES_ONLY`).
        (Profile::Libpod301, DIGEST_FOUND_BY_SAME_REPO),
        (Profile::Libpod19, DIGEST_FOUND_BY_SAME_REPO),
    ],
};

/// The engine's own full ID of a present image is never "not found".
pub const A_FULL_ID_ALWAYS_FINDS_ITS_IMAGE: Law = Law {
    name: "a_full_id_always_finds_its_image",
    statement: "a request for `sha256:<ID>` (the engine's own ID) of an image in the store does not report \
                not-found, and removes the image or reports why not",
    check: |case| {
        let [name] = case.request.names.as_slice() else { return Verdict::NotApplicable };
        let Some(image) = case.store.images.iter().find(|i| engine_id(case.profile, i).is_prefixed(name)) else {
            return Verdict::NotApplicable;
        };
        let o = case.outcome;
        if o.errors.iter().any(|e| e.kind == ErrorKind::NotFound) {
            return case.fails(|| "not found".into());
        }
        case.check(o.after.image(&image.config).is_none() || !o.errors.is_empty(), || {
            "the image stayed and no error says why".into()
        })
    },
    excluded: &[],
};

/// The same request on the same store gives the same outcome.
pub const REMOVAL_IS_DETERMINISTIC: Law = Law {
    name: "removal_is_deterministic",
    statement: "the same request on the same store gives the same outcome (no hash-order or other hidden input)",
    check: |case| {
        let again = remove(case.profile, case.store, case.request);
        case.check(again == *case.outcome, || "a second run differs".into())
    },
    excluded: &[],
};

/// A request for one name takes names away from one image at most.
pub const ONE_NAME_UNTAGS_AT_MOST_ONE_IMAGE: Law = Law {
    name: "one_name_untags_at_most_one_image",
    statement:
        "a request for one name takes names from at most one image (pruned parents have none)",
    check: |case| {
        if case.request.names.len() != 1 || case.request.all {
            return Verdict::NotApplicable;
        }
        let touched = case.gone().images_untagged(case.store);
        case.check(touched <= 1, || format!("names went from {touched} images"))
    },
    excluded: &[],
};

/// The listing shows every image left, by the engine's ID, with exactly its names.
pub const THE_LISTING_SHOWS_EVERY_IMAGE_LEFT: Law = Law {
    name: "the_listing_shows_every_image_left",
    statement: "the engine's listing after a request shows every image left, by the engine's ID, with exactly \
                its names fully qualified (docker-containerd adds one `<repo>@<ID>`), and every container left",
    check: |case| case.listing_verdict(),
    excluded: &[],
};

/// [`THE_LISTING_SHOWS_EVERY_IMAGE_LEFT`] on the store `after`: nothing else of the case
/// counts but its profile (and whether to explain a failure).
fn listing_shows_every_image_left(case: &Case, after: &Store) -> Verdict {
    let profile = case.profile;
    let shown = listing(profile, after);
    if shown.images.len() != after.images.len() {
        return case.fails(|| {
            format!(
                "{} images listed, {} stored",
                shown.images.len(),
                after.images.len()
            )
        });
    }
    for image in &after.images {
        let id = engine_id(profile, image);
        let Some(listed) = shown.images.iter().find(|l| &l.id == id) else {
            return case.fails(|| format!("image {} is not listed", id.short(3)));
        };
        let stored: BTreeSet<String> = image.refs.iter().map(|r| r.full()).collect();
        let listed_names: BTreeSet<String> = listed.names.iter().cloned().collect();
        let extra: Vec<&String> = listed_names.difference(&stored).collect();
        // docker-containerd computes one `<repo>@<target>` RepoDigest from the repository
        // of one of the image's names (`moby/moby@v26.1.5:daemon/containerd/image_list.go`).
        let derived = |n: &String| {
            image
                .refs
                .iter()
                .any(|r| format!("{}@{}", r.repo().full(), image.manifest) == *n)
        };
        let extra_ok = match profile.engine() {
            Engine::DockerContainerd => extra.len() <= 1 && extra.iter().all(|n| derived(n)),
            _ => extra.is_empty(),
        };
        if !stored.is_subset(&listed_names) || !extra_ok {
            return case.fails(|| {
                format!(
                    "image {} listed as {listed_names:?}, stored as {stored:?}",
                    id.short(3)
                )
            });
        }
    }
    let containers: Vec<_> = after
        .containers
        .iter()
        .map(|c| (c.id.clone(), c.state))
        .collect();
    case.check(shown.containers == containers, || {
        "the containers listed differ".into()
    })
}

/// Every law, in the order reports show them.
pub const ALL: &[&Law] = &[
    &UNTAGGED_RECORDS_NAME_NAMES_THAT_WENT,
    &DELETED_RECORDS_NAME_IMAGES_THAT_WENT,
    &EVERY_CHANGE_IS_REPORTED,
    &A_FAILED_ONE_NAME_REQUEST_CHANGES_NOTHING,
    &NO_RUNNING_CONTAINER_IS_LEFT_WITHOUT_ITS_IMAGE,
    &WITHOUT_FORCE_NO_CONTAINER_IS_LEFT_WITHOUT_ITS_IMAGE,
    &CONTAINERS_ARE_NEVER_ADDED_OR_CHANGED,
    &A_POD_GOES_WHOLE_OR_NOT_AT_ALL,
    &ONLY_FORCED_PODMAN_REMOVES_CONTAINERS,
    &FORCE_DOES_AT_LEAST_WHAT_NO_FORCE_DOES,
    &NOPRUNE_DOES_AT_MOST_WHAT_PRUNE_DOES,
    &UNTAGGING_ONE_OF_SEVERAL_TAGS_KEEPS_THE_IMAGE,
    &AN_UNKNOWN_NAME_CHANGES_NOTHING,
    &A_SECOND_IDENTICAL_REQUEST_CHANGES_NOTHING,
    &A_FULL_ID_ALWAYS_FINDS_ITS_IMAGE,
    &REMOVAL_IS_DETERMINISTIC,
    &ONE_NAME_UNTAGS_AT_MOST_ONE_IMAGE,
    &THE_LISTING_SHOWS_EVERY_IMAGE_LEFT,
];

/// Checks `law` on `profile`, `store`, `request`: `Err` with the case shown if it fails.
pub fn check(
    law: &Law,
    profile: Profile,
    store: &Store,
    request: &Request,
) -> Result<Verdict, String> {
    let outcome = remove(profile, store, request);
    let case = Case {
        profile,
        store,
        request,
        outcome: &outcome,
        memo: None,
        table: None,
        explain: true,
    };
    match (law.check)(&case) {
        Verdict::Fails(why) => Err(format!("{why}\n{}", case.show())),
        v => Ok(v),
    }
}
