//! The synthesized images of one scenario, in the shapes the adapters' builders load, push
//! and archive them. One type for every adapter, so that none re-implements the lookups.

use crate::live::registry::Registry;
use crate::scenario::{Given, ImageHandle};
use crate::synth::{self, SynthImage, Synthesized};
use anyhow::Context;
use rmispec_model::Digest;

/// A scenario's synthesized images, with the `given` they were made from.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// The images, per handle.
    pub synthesized: &'a Synthesized,
    /// The store they were made for.
    pub given: &'a Given,
}

impl<'a> Source<'a> {
    /// `synthesized`, made from `given`.
    pub fn new(synthesized: &'a Synthesized, given: &'a Given) -> Source<'a> {
        Source { synthesized, given }
    }

    /// One synthesized image.
    pub fn image(&self, h: &ImageHandle) -> anyhow::Result<&'a SynthImage> {
        self.synthesized
            .image(h.as_str())
            .with_context(|| format!("{h} was not synthesized"))
    }

    /// An image's config and manifest digests (a multi-platform image's: the `linux/amd64`
    /// config and the index).
    pub fn digests(&self, h: &ImageHandle) -> anyhow::Result<(Digest, Digest)> {
        let i = self.image(h)?;
        Ok((i.config.digest.clone(), i.top().digest.clone()))
    }

    /// One `docker save`-style archive (both `manifest.json` and `index.json`) holding
    /// `images` in order, each with the given names (none: dangling), and each image's parent
    /// named in its `manifest.json` entry when the parent is in the archive too.
    pub fn archive(&self, images: &[(&ImageHandle, Vec<String>)]) -> anyhow::Result<Vec<u8>> {
        let images: Vec<(&SynthImage, &[String])> = images
            .iter()
            .map(|(h, names)| Ok((self.image(h)?, names.as_slice())))
            .collect::<anyhow::Result<_>>()?;
        Ok(synth::archive(&images))
    }

    /// The layer an image adds on top of its parent's, as an uncompressed tar, if any.
    pub fn own_layer(&self, h: &ImageHandle) -> anyhow::Result<Option<Vec<u8>>> {
        if self.given.images[h].layers.is_empty() {
            return Ok(None);
        }
        Ok(self.image(h)?.layers.last().map(|l| l.blob.bytes.clone()))
    }

    /// [`push`](Self::push), and the manifest stored under `repo:tag` too, so that the engine
    /// can pull the tag (`made_by: pull`).
    pub fn push_tagged(
        &self,
        registry: &Registry,
        h: &ImageHandle,
        repo: &str,
        tag: &str,
    ) -> anyhow::Result<Digest> {
        let digest = self.push(registry, h, repo)?;
        let i = self.image(h)?;
        registry.tag(repo, tag, i.manifest.media_type, &i.manifest.bytes)?;
        Ok(digest)
    }

    /// Pushes an image's blobs and manifest to `repo` in `registry`, byte for byte; returns
    /// the manifest digest.
    pub fn push(&self, registry: &Registry, h: &ImageHandle, repo: &str) -> anyhow::Result<Digest> {
        let i = self.image(h)?;
        let blobs: Vec<&[u8]> = i.blobs().map(|b| b.bytes.as_slice()).collect();
        registry.push(repo, i.manifest.media_type, &i.manifest.bytes, &blobs)
    }
}
