//! MNIST IDX files (`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`), plain or gzipped.
//!
//! Format: a big-endian magic `0x0000 TT NN` (TT = element type, 0x08 = unsigned byte; NN = number
//! of dimensions), NN big-endian u32 dimensions, then the elements in C order. Gzip is detected
//! by its magic bytes, not the file name.

use super::ImportError;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// Largest decompressed IDX file accepted (guards memory on hostile input).
pub const MAX_BYTES: u64 = 1 << 30;

/// A stack of 8-bit images, e.g. the 10,000 MNIST test images (28×28).
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub rows: usize,
    pub cols: usize,
    /// One row-major `rows × cols` vector per image.
    pub data: Vec<Vec<u8>>,
}

impl Images {
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Image `i` as network input values (the raw pixels), or `None` if out of range.
    pub fn input(&self, i: usize) -> Option<Vec<i64>> {
        self.data.get(i).map(|img| img.iter().map(|&p| i64::from(p)).collect())
    }
}

fn bad(path: &Path, message: String) -> ImportError {
    ImportError::Idx { path: path.to_path_buf(), message }
}

/// The file's bytes, gunzipped if they start with the gzip magic.
fn read_bytes(path: &Path) -> Result<Vec<u8>, ImportError> {
    let raw = std::fs::read(path).map_err(|error| ImportError::Io { path: path.to_path_buf(), error })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .take(MAX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(path, format!("gzip data is corrupt or truncated: {e}")))?;
        if out.len() as u64 > MAX_BYTES {
            return Err(bad(path, format!("decompressed size exceeds {MAX_BYTES} bytes")));
        }
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Check the magic number and read the dimensions of an IDX header (unsigned bytes, `ndims`
/// dimensions) at the start of `bytes`; returns the dimensions and their product.
fn parse_header(path: &Path, bytes: &[u8], ndims: u8, what: &str) -> Result<(Vec<usize>, usize), ImportError> {
    if bytes.len() < 4 {
        return Err(bad(path, "file is shorter than the 4-byte magic number".into()));
    }
    let expected = [0, 0, 0x08, ndims];
    if bytes[..4] != expected {
        return Err(bad(
            path,
            format!(
                "bad magic number {:02x}{:02x}{:02x}{:02x}: expected {:02x}{:02x}{:02x}{:02x} ({what}: unsigned bytes, {ndims} dimensions)",
                bytes[0], bytes[1], bytes[2], bytes[3], expected[0], expected[1], expected[2], expected[3]
            ),
        ));
    }
    let header = 4 + 4 * usize::from(ndims);
    if bytes.len() < header {
        return Err(bad(path, "truncated header".into()));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(path, format!("dimensions {dims:?} overflow")))?;
    Ok((dims, n))
}

/// Parse an IDX header with element type unsigned byte and `ndims` dimensions; returns the
/// dimensions and the element bytes (exactly their product).
fn parse(path: &Path, bytes: &[u8], ndims: u8, what: &str) -> Result<(Vec<usize>, Vec<u8>), ImportError> {
    let (dims, n) = parse_header(path, bytes, ndims, what)?;
    let body = &bytes[4 + 4 * usize::from(ndims)..];
    if body.len() != n {
        return Err(bad(
            path,
            format!(
                "{} data: dimensions {dims:?} need {n} bytes, the file has {}",
                if body.len() < n { "truncated" } else { "trailing" },
                body.len()
            ),
        ));
    }
    Ok((dims, body.to_vec()))
}

/// Read an IDX3 image file (`[count, rows, cols]` unsigned bytes), gzipped or not.
pub fn load_images(path: &Path) -> Result<Images, ImportError> {
    let bytes = read_bytes(path)?;
    let (dims, body) = parse(path, &bytes, 3, "images")?;
    let (rows, cols) = (dims[1], dims[2]);
    let size = rows * cols;
    if size == 0 {
        return Err(bad(path, format!("empty images ({rows}×{cols})")));
    }
    Ok(Images { rows, cols, data: body.chunks_exact(size).map(<[u8]>::to_vec).collect() })
}

/// Read only image `index` of an IDX3 image file, gzipped or not: the header is checked as in
/// [`load_images`] and decompression stops after the image (a verification run needs one image;
/// decoding all 10,000 MNIST test images cost most of a run's start-up). Returns the image as
/// network input values and the number of images the header declares. Trailing or missing data
/// after the image is not checked here ([`load_images`] checks the whole file).
pub fn load_image(path: &Path, index: usize) -> Result<(Vec<i64>, usize), ImportError> {
    let io = |error| ImportError::Io { path: path.to_path_buf(), error };
    let mut file = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
    let gz = std::io::BufRead::fill_buf(&mut file).map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut r: Box<dyn Read> = if gz { Box::new(GzDecoder::new(file)) } else { Box::new(file) };
    let corrupt = |e: std::io::Error| bad(path, format!("cannot read the image data (corrupt or truncated?): {e}"));
    let mut header = Vec::with_capacity(16);
    r.by_ref().take(16).read_to_end(&mut header).map_err(corrupt)?;
    let (dims, _) = parse_header(path, &header, 3, "images")?;
    let (count, size) = (dims[0], dims[1] * dims[2]);
    if size == 0 {
        return Err(bad(path, format!("empty images ({}×{})", dims[1], dims[2])));
    }
    if index >= count {
        return Err(bad(path, format!("index {index} out of range ({count} images)")));
    }
    let skip = (index as u64).checked_mul(size as u64).filter(|&n| n <= MAX_BYTES);
    let skip = skip.ok_or_else(|| bad(path, format!("image {index} lies beyond {MAX_BYTES} bytes")))?;
    let skipped = std::io::copy(&mut r.by_ref().take(skip), &mut std::io::sink()).map_err(corrupt)?;
    let mut img = vec![0u8; size];
    if skipped < skip {
        return Err(bad(path, format!("truncated data: image {index} is missing")));
    }
    r.read_exact(&mut img).map_err(|_| bad(path, format!("truncated data: image {index} is incomplete")))?;
    Ok((img.into_iter().map(i64::from).collect(), count))
}

/// Read an IDX1 label file (`[count]` unsigned bytes), gzipped or not.
pub fn load_labels(path: &Path) -> Result<Vec<u8>, ImportError> {
    let bytes = read_bytes(path)?;
    Ok(parse(path, &bytes, 1, "labels")?.1)
}
