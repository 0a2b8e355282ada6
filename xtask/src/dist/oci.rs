//! `tracer-VERSION-oci.tar`: an OCI image archive (the layout of the OCI image spec, tarred, as
//! `podman save --format oci-archive` writes one), written here by hand rather than by a
//! container tool: one gzipped layer holding the static binary and its licences on an empty
//! base, a config whose entrypoint is `tracer`, a manifest and an index naming it
//! `localhost/tracer:VERSION`. No registry, daemon or base image is involved, and the same
//! commit gives the same bytes.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::{Release, put, sha256, sha256_file, tar};
use crate::command::{step, workspace_root};

pub const REPOSITORY: &str = "localhost/tracer";

pub fn build(release: &Release, out: &Path) -> Result<PathBuf> {
    let file = out.join(format!("tracer-{}-oci.tar", release.version));
    step(format!("writing {}", file.display()));
    let rootfs = release.work.join("oci-rootfs");
    put(&release.tracer, &rootfs.join("usr/bin/tracer"), 0o755)?;
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        put(&workspace_root().join(licence), &rootfs.join("usr/share/doc/tracer").join(licence), 0o644)?;
    }
    let layout = release.work.join("oci");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let layer = release.work.join("layer.tar.gz");
    tar(&rootfs, "", release.epoch, &layer)?;
    // The config names the layer by its uncompressed digest, the manifest by its compressed one.
    let diff_id = gunzipped_sha256(&layer)?;
    let layer = blob(&blobs, &fs::read(&layer)?)?;
    let created = rfc3339(release.epoch)?;
    let config = json!({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": ["/usr/bin/tracer"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": labels(release, &created),
        },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
        "history": [{ "created": created, "created_by": "cargo xtask dist" }],
    });
    let config = blob(&blobs, &serde_json::to_vec(&config)?)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &layer)],
        "annotations": labels(release, &created),
    });
    let manifest = blob(&blobs, &serde_json::to_vec(&manifest)?)?;
    let mut entry = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    entry["annotations"] = json!({ "org.opencontainers.image.ref.name": image_name(&release.version) });
    entry["platform"] = json!({ "architecture": "amd64", "os": "linux" });
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    });
    fs::write(layout.join("index.json"), serde_json::to_vec(&index)?)?;
    fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    tar(&layout, "", release.epoch, &file)?;
    Ok(file)
}

/// The name `podman load` gives the image.
pub fn image_name(version: &str) -> String {
    // A tag cannot hold `+`; the `-dirty` suffix is fine.
    format!("{REPOSITORY}:{version}")
}

fn labels(release: &Release, created: &str) -> Value {
    json!({
        "org.opencontainers.image.title": "tracer",
        "org.opencontainers.image.version": release.version,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.licenses": "MIT OR Apache-2.0",
    })
}

/// A blob stored under its digest: (digest, size).
fn blob(blobs: &Path, bytes: &[u8]) -> Result<(String, usize)> {
    let digest = sha256(bytes);
    fs::write(blobs.join(&digest), bytes)?;
    Ok((digest, bytes.len()))
}

fn descriptor(media_type: &str, (digest, size): &(String, usize)) -> Value {
    json!({ "mediaType": media_type, "digest": format!("sha256:{digest}"), "size": size })
}

fn gunzipped_sha256(gz: &Path) -> Result<String> {
    let raw = gz.with_extension("raw");
    let output = Command::new("gzip").arg("-dc").arg(gz).output().context("cannot run gzip")?;
    fs::write(&raw, output.stdout)?;
    let digest = sha256_file(&raw)?;
    fs::remove_file(&raw)?;
    Ok(digest)
}

fn rfc3339(epoch: u64) -> Result<String> {
    let output =
        Command::new("date").args(["-u", "-d"]).arg(format!("@{epoch}")).arg("+%Y-%m-%dT%H:%M:%SZ").output()?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
