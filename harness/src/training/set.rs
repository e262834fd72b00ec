//! The smallest training set the service trains on, and the domain whose models export: what
//! every driver that trains a project of its own (the lifecycle check, verify's scenarios, the
//! tests) gives it.

use cvnotify_core::ProjectId;

use super::client::TrainingClient;
use super::error::TrainingError;
use super::model::{ImageCreateSummary, ImageFile};

/// General (compact): the classification domain whose models can be exported (a check's or a
/// scenario's project is in it).
pub const EXPORTABLE_DOMAIN: uuid::Uuid = uuid::uuid!("0732100f-1a38-4e49-a514-c9b44c697ab5");

/// The smallest training set the service trains on: two tags, five images each.
pub const TAGS: [&str; 2] = ["cvnotify-stripes", "cvnotify-checks"];
/// Images per tag.
pub const IMAGES_PER_TAG: u8 = 5;

/// Gives project `p` the smallest training set the service trains on ([`TAGS`], each on
/// [`IMAGES_PER_TAG`] [`sample_image`]s): two CreateTag calls and one CreateImagesFromFiles.
pub async fn upload_training_set(
    api: &TrainingClient,
    p: ProjectId,
) -> Result<ImageCreateSummary, TrainingError> {
    let mut images = Vec::new();
    for (t, name) in TAGS.iter().enumerate() {
        let tag = api.create_tag(p, name).await?;
        images.extend((0..IMAGES_PER_TAG).map(|n| ImageFile {
            name: format!("{name}-{n}.bmp"),
            contents: sample_image(t, n),
            tags: vec![tag.id],
        }));
    }
    api.create_images_from_files(p, &images).await
}

/// A 256x256 8-bit BMP: stripes (tag 0) or checks (tag 1) in a palette shifted by `n`, so that
/// no two images are the same (the service takes a repeated image as a duplicate).
pub fn sample_image(tag: usize, n: u8) -> Vec<u8> {
    const SIDE: u32 = 256;
    const PALETTE: u32 = 256 * 4;
    const OFFSET: u32 = 14 + 40 + PALETTE;
    let size = OFFSET + SIDE * SIDE;
    let mut bmp = Vec::with_capacity(size as usize);
    bmp.extend_from_slice(b"BM");
    for v in [size, 0, OFFSET, 40, SIDE, SIDE] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&8u16.to_le_bytes());
    for v in [0, SIDE * SIDE, 2835, 2835, 256, 0] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..=255u8 {
        let c = i.wrapping_add(n.wrapping_mul(23));
        let (b, g, r) = if tag == 0 {
            (c / 4, c / 2, c)
        } else {
            (c, c / 2, c / 4)
        };
        bmp.extend_from_slice(&[b, g, r, 0]);
    }
    for y in 0..SIDE {
        for x in 0..SIDE {
            let v = if tag == 0 {
                ((x / 16) % 2) * 200 + y / 8
            } else {
                (((x / 32) + (y / 32)) % 2) * 200 + (x ^ y) % 32
            };
            bmp.push(v as u8);
        }
    }
    bmp
}
