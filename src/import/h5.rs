//! A small, pure-Rust reader for the subset of HDF5 that Keras/h5py weight files use.
//!
//! Why not the `hdf5` crate: it needs the system HDF5 library (`libhdf5-dev`) on every developer
//! machine and in CI, and its C library prints error stacks rather than returning typed errors.
//! These weight files use a small, stable part of the format, which this module reads from an
//! in-memory copy of the file with bounds checks on every access (a malformed file gives an
//! [`H5Error`] naming the file and the object, never a panic).
//!
//! Supported: superblock versions 0–3; object headers v1 and v2 (with continuation blocks);
//! old-style groups (symbol table: v1 B-tree + local heap + symbol nodes) and new-style compact
//! groups (link messages); datasets with contiguous or compact layout and IEEE binary32/binary64
//! little- or big-endian element types. Not supported (clear error): chunked or filtered
//! (compressed) datasets, dense link storage (fractal heaps), shared/committed datatypes, other
//! element types. Checksums of v2 structures are not verified (every read is bounds-checked).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why an HDF5 file could not be read.
#[derive(Debug, Error)]
pub enum H5Error {
    #[error("{path}: cannot read: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: HDF5 {object}: {message}")]
    Format { path: PathBuf, object: String, message: String },
    #[error("{path}: HDF5 dataset {dataset} not found")]
    NotFound { path: PathBuf, dataset: String },
}

/// Largest number of objects (groups + datasets + B-tree nodes) visited in one walk; guards
/// against cyclic or hostile files.
const MAX_OBJECTS: usize = 100_000;
/// Largest number of header chunks (continuation blocks) of one object header.
const MAX_CHUNKS: usize = 1_000;
/// Deepest group / B-tree nesting followed.
const MAX_DEPTH: usize = 64;

/// A floating-point dataset read from the file, converted to `f64` (exact for binary32).
#[derive(Clone, Debug, PartialEq)]
pub struct FloatDataset {
    /// Absolute path inside the file, e.g. `/dense/dense/kernel:0`.
    pub name: String,
    /// Dimensions, C-order (the last index varies fastest in `values`).
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

/// An HDF5 file held in memory.
pub struct H5File {
    path: PathBuf,
    data: Vec<u8>,
    off_size: usize,
    len_size: usize,
    base: u64,
    root: u64,
}

/// A bounds-checked little-endian cursor over the file bytes.
struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, String>;

impl<'a> Cur<'a> {
    fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| {
            format!("truncated: needs {n} bytes at file offset {} (file has {})", self.pos, self.buf.len())
        })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> R<u16> {
        Ok(self.uint(2)? as u16)
    }
    fn u32(&mut self) -> R<u32> {
        Ok(self.uint(4)? as u32)
    }
    /// An `n`-byte little-endian unsigned integer (`n <= 8`).
    fn uint(&mut self, n: usize) -> R<u64> {
        let b = self.bytes(n)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
    fn skip(&mut self, n: usize) -> R<()> {
        self.bytes(n).map(|_| ())
    }
}

/// One header message: its type and the byte range of its body in the file.
struct Msg {
    mtype: u16,
    flags: u8,
    start: usize,
    len: usize,
}

/// What an object header says an object is.
enum Object {
    /// Old-style group: B-tree and local heap addresses.
    SymbolTable {
        btree: u64,
        heap: u64,
    },
    /// New-style group: its links (name, object header address).
    Links(Vec<(String, u64)>),
    Dataset,
    Other,
}

const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

impl H5File {
    /// Read and parse the superblock of the file at `path`.
    pub fn open(path: &Path) -> Result<H5File, H5Error> {
        let data = std::fs::read(path).map_err(|error| H5Error::Io { path: path.to_path_buf(), error })?;
        H5File::from_bytes(data, path)
    }

    /// Parse an in-memory file; `path` is only used in error messages.
    pub fn from_bytes(data: Vec<u8>, path: &Path) -> Result<H5File, H5Error> {
        let mut f = H5File { path: path.to_path_buf(), data, off_size: 8, len_size: 8, base: 0, root: 0 };
        f.read_superblock().map_err(|m| f.err("superblock", m))?;
        Ok(f)
    }

    fn err(&self, object: &str, message: String) -> H5Error {
        H5Error::Format { path: self.path.clone(), object: object.to_string(), message }
    }

    fn read_superblock(&mut self) -> R<()> {
        // The superblock is at 0 or after a user block at 512, 1024, 2048, ...
        let mut at = 0usize;
        loop {
            if self.data.len() >= at + 8 && &self.data[at..at + 8] == SIGNATURE {
                break;
            }
            at = if at == 0 { 512 } else { at * 2 };
            if at + 8 > self.data.len() {
                return Err("not an HDF5 file (no format signature found)".into());
            }
        }
        let mut c = Cur { buf: &self.data, pos: at + 8 };
        let version = c.u8()?;
        let eof;
        match version {
            0 | 1 => {
                c.skip(4)?; // free-space, root group, reserved, shared header versions
                let (o, l) = (c.u8()? as usize, c.u8()? as usize);
                check_sizes(o, l)?;
                c.skip(1 + 2 + 2 + 4)?; // reserved, leaf K, internal K, flags
                if version == 1 {
                    c.skip(4)?; // indexed storage K, reserved
                }
                self.base = c.uint(o)?;
                c.skip(o)?; // free-space info address
                eof = c.uint(o)?;
                c.skip(o)?; // driver info address
                c.skip(o)?; // root symbol table entry: link name offset
                self.root = c.uint(o)?;
                (self.off_size, self.len_size) = (o, l);
            }
            2 | 3 => {
                let (o, l) = (c.u8()? as usize, c.u8()? as usize);
                check_sizes(o, l)?;
                c.skip(1)?; // flags
                self.base = c.uint(o)?;
                c.skip(o)?; // superblock extension address
                eof = c.uint(o)?;
                self.root = c.uint(o)?;
                (self.off_size, self.len_size) = (o, l);
            }
            v => return Err(format!("superblock version {v} is not supported (0-3 are)")),
        }
        if self.base != 0 && self.base != at as u64 {
            return Err(format!("base address {} is not supported", self.base));
        }
        if !matches!(self.base.checked_add(eof), Some(end) if end <= self.data.len() as u64) {
            return Err(format!(
                "file is truncated: it has {} bytes, its superblock says {}",
                self.data.len(),
                self.base.saturating_add(eof)
            ));
        }
        Ok(())
    }

    fn undefined(&self, addr: u64) -> bool {
        self.off_size >= 8 && addr == u64::MAX || self.off_size < 8 && addr == (1u64 << (8 * self.off_size)) - 1
    }

    /// A cursor at file address `addr` (relative to the base address).
    fn at(&self, addr: u64) -> R<Cur<'_>> {
        let abs = self.base.checked_add(addr).filter(|&a| a < self.data.len() as u64).ok_or_else(|| {
            format!("address {addr} is outside the file ({} bytes): truncated or corrupt", self.data.len())
        })?;
        Ok(Cur { buf: &self.data, pos: abs as usize })
    }

    /// All messages of the object header at `addr`, following continuation blocks.
    fn messages(&self, addr: u64) -> R<Vec<Msg>> {
        let mut c = self.at(addr)?;
        let mut msgs = Vec::new();
        let mut chunks: Vec<(usize, usize)> = Vec::new(); // (start, end) absolute
        let v2 = c.buf.len() >= c.pos + 4 && &c.buf[c.pos..c.pos + 4] == b"OHDR";
        let mut hdr_flags = 0u8;
        let mut remaining_v1: Option<usize> = None;
        if v2 {
            c.skip(4)?;
            let version = c.u8()?;
            if version != 2 {
                return Err(format!("object header version {version} is not supported"));
            }
            hdr_flags = c.u8()?;
            if hdr_flags & 0x20 != 0 {
                c.skip(16)?; // access, modification, change, birth times
            }
            if hdr_flags & 0x10 != 0 {
                c.skip(4)?; // attribute storage phase change values
            }
            let size = c.uint(1 << (hdr_flags & 3))? as usize;
            let end = c.pos.checked_add(size).ok_or("object header size overflows")?;
            chunks.push((c.pos, end));
        } else {
            let version = c.u8()?;
            if version != 1 {
                return Err(format!("object header version {version} is not supported (bad address or corrupt file)"));
            }
            c.skip(1)?;
            remaining_v1 = Some(c.u16()? as usize);
            c.skip(4)?; // reference count
            let size = c.u32()? as usize;
            c.skip(4)?; // padding to 8 bytes
            let end = c.pos.checked_add(size).ok_or("object header size overflows")?;
            chunks.push((c.pos, end));
        }
        let mut i = 0;
        while i < chunks.len() {
            if chunks.len() > MAX_CHUNKS {
                return Err("too many object header continuation blocks".into());
            }
            let (start, end) = chunks[i];
            i += 1;
            if end > self.data.len() {
                return Err(format!("object header block [{start}, {end}) is outside the file: truncated"));
            }
            let mut c = Cur { buf: &self.data[..end], pos: start };
            // v2: chunk 0's size excludes its trailing checksum; a continuation block's length
            // includes its OCHK signature and checksum.
            let body_end = if v2 && i > 1 {
                if c.bytes(4)? != b"OCHK" {
                    return Err("object header continuation block has no OCHK signature".into());
                }
                end.checked_sub(4).ok_or("object header block too small")?
            } else {
                end
            };
            let hdr_len = if v2 { 4 + if hdr_flags & 0x04 != 0 { 2 } else { 0 } } else { 8 };
            while c.pos + hdr_len <= body_end {
                if let Some(0) = remaining_v1 {
                    break;
                }
                let (mtype, len, flags) = if v2 {
                    let t = u16::from(c.u8()?);
                    let len = c.u16()? as usize;
                    let flags = c.u8()?;
                    if hdr_flags & 0x04 != 0 {
                        c.skip(2)?;
                    }
                    (t, len, flags)
                } else {
                    let t = c.u16()?;
                    let len = c.u16()? as usize;
                    let flags = c.u8()?;
                    c.skip(3)?;
                    (t, len, flags)
                };
                let mstart = c.pos;
                if mstart + len > body_end {
                    return Err(format!("header message of type {mtype} overruns its block"));
                }
                c.skip(len)?;
                if let Some(r) = remaining_v1.as_mut() {
                    *r -= 1;
                }
                if mtype == 0x10 {
                    let mut m = Cur { buf: &self.data, pos: mstart };
                    let off = m.uint(self.off_size)?;
                    let clen = m.uint(self.len_size)? as usize;
                    let s = self.at(off)?.pos;
                    chunks.push((s, s.checked_add(clen).ok_or("continuation length overflows")?));
                } else {
                    msgs.push(Msg { mtype, flags, start: mstart, len });
                }
            }
        }
        Ok(msgs)
    }

    fn body<'a>(&'a self, m: &Msg) -> Cur<'a> {
        // Message ranges were checked against the file length in `messages`.
        Cur { buf: &self.data[..m.start + m.len], pos: m.start }
    }

    fn classify(&self, addr: u64) -> R<Object> {
        let msgs = self.messages(addr)?;
        let mut links = Vec::new();
        let mut is_group = false;
        for m in &msgs {
            let mut c = self.body(m);
            match m.mtype {
                0x11 => {
                    let btree = c.uint(self.off_size)?;
                    let heap = c.uint(self.off_size)?;
                    return Ok(Object::SymbolTable { btree, heap });
                }
                0x02 => {
                    is_group = true;
                    c.skip(1)?;
                    let flags = c.u8()?;
                    if flags & 1 != 0 {
                        c.skip(8)?;
                    }
                    let heap = c.uint(self.off_size)?;
                    if !self.undefined(heap) {
                        return Err("group uses dense link storage (fractal heap), which is not supported".into());
                    }
                }
                0x06 => {
                    is_group = true;
                    if let Some(link) = self.link_message(&mut c)? {
                        links.push(link);
                    }
                }
                _ => {}
            }
        }
        if is_group {
            return Ok(Object::Links(links));
        }
        if msgs.iter().any(|m| m.mtype == 0x08) {
            return Ok(Object::Dataset);
        }
        Ok(Object::Other)
    }

    /// A link message; `None` for soft and external links (not followed).
    fn link_message(&self, c: &mut Cur<'_>) -> R<Option<(String, u64)>> {
        let version = c.u8()?;
        if version != 1 {
            return Err(format!("link message version {version} is not supported"));
        }
        let flags = c.u8()?;
        let ltype = if flags & 0x08 != 0 { c.u8()? } else { 0 };
        if flags & 0x04 != 0 {
            c.skip(8)?;
        }
        if flags & 0x10 != 0 {
            c.skip(1)?;
        }
        let nlen = c.uint(1 << (flags & 3))? as usize;
        let name = String::from_utf8_lossy(c.bytes(nlen)?).into_owned();
        if ltype != 0 {
            return Ok(None);
        }
        Ok(Some((name, c.uint(self.off_size)?)))
    }

    /// The (name, object header address) entries of an old-style group.
    fn symbol_table(&self, btree: u64, heap: u64) -> R<Vec<(String, u64)>> {
        let mut h = self.at(heap)?;
        if h.bytes(4)? != b"HEAP" {
            return Err("local heap has no HEAP signature".into());
        }
        h.skip(4)?;
        let heap_size = h.uint(self.len_size)? as usize;
        h.skip(self.len_size)?;
        let heap_data = self.at(h.uint(self.off_size)?)?.pos;
        let heap_end = heap_data
            .checked_add(heap_size)
            .filter(|&e| e <= self.data.len())
            .ok_or("local heap is outside the file: truncated")?;
        let heap_bytes = &self.data[heap_data..heap_end];

        let mut out = Vec::new();
        let mut stack = vec![(btree, 0usize)];
        let mut seen = HashSet::new();
        while let Some((node, depth)) = stack.pop() {
            if depth > MAX_DEPTH || !seen.insert(node) || seen.len() > MAX_OBJECTS {
                return Err("group B-tree is cyclic or too large".into());
            }
            let mut c = self.at(node)?;
            if c.bytes(4)? != b"TREE" {
                return Err("group B-tree node has no TREE signature".into());
            }
            if c.u8()? != 0 {
                return Err("group B-tree node is not a group node".into());
            }
            let level = c.u8()?;
            let entries = c.u16()? as usize;
            c.skip(2 * self.off_size)?; // siblings
            let mut children = Vec::with_capacity(entries.min(1024));
            for _ in 0..entries {
                c.skip(self.len_size)?; // key
                children.push(c.uint(self.off_size)?);
            }
            if level > 0 {
                stack.extend(children.into_iter().rev().map(|a| (a, depth + 1)));
                continue;
            }
            for snod in children {
                let mut s = self.at(snod)?;
                if s.bytes(4)? != b"SNOD" {
                    return Err("symbol table node has no SNOD signature".into());
                }
                s.skip(2)?;
                let n = s.u16()? as usize;
                for _ in 0..n {
                    let name_off = s.uint(self.off_size)? as usize;
                    let obj = s.uint(self.off_size)?;
                    s.skip(4 + 4 + 16)?; // cache type, reserved, scratch
                    let name = heap_bytes
                        .get(name_off..)
                        .and_then(|b| b.iter().position(|&x| x == 0).map(|e| &b[..e]))
                        .ok_or("link name is outside the local heap")?;
                    out.push((String::from_utf8_lossy(name).into_owned(), obj));
                }
            }
        }
        Ok(out)
    }

    /// Absolute paths of every dataset in the file, sorted, with their object header addresses.
    fn walk(&self) -> Result<Vec<(String, u64)>, H5Error> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(String::new(), self.root, 0usize)];
        while let Some((name, addr, depth)) = stack.pop() {
            let shown = if name.is_empty() { "/".to_string() } else { name.clone() };
            if depth > MAX_DEPTH || seen.len() > MAX_OBJECTS {
                return Err(self.err(&format!("group {shown}"), "groups nested too deeply or too many objects".into()));
            }
            if !seen.insert(addr) {
                continue; // hard link to an object already visited
            }
            let kind = self.classify(addr).map_err(|m| self.err(&format!("object {shown}"), m))?;
            let children = match kind {
                Object::SymbolTable { btree, heap } => {
                    self.symbol_table(btree, heap).map_err(|m| self.err(&format!("group {shown}"), m))?
                }
                Object::Links(l) => l,
                Object::Dataset => {
                    out.push((name, addr));
                    continue;
                }
                Object::Other => continue,
            };
            for (child, a) in children {
                stack.push((format!("{name}/{child}"), a, depth + 1));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Absolute paths of every dataset in the file, sorted.
    pub fn dataset_names(&self) -> Result<Vec<String>, H5Error> {
        Ok(self.walk()?.into_iter().map(|(n, _)| n).collect())
    }

    /// Read every dataset of the file whose path satisfies `keep` as floats (sorted by path).
    pub fn float_datasets(&self, keep: impl Fn(&str) -> bool) -> Result<Vec<FloatDataset>, H5Error> {
        self.walk()?
            .into_iter()
            .filter(|(name, _)| keep(name))
            .map(|(name, addr)| self.read_float(addr, &name).map_err(|m| self.err(&format!("dataset {name}"), m)))
            .collect()
    }

    /// Read the dataset at absolute path `name` (e.g. `/dense/dense/kernel:0`) as floats.
    pub fn read_dataset(&self, name: &str) -> Result<FloatDataset, H5Error> {
        let (_, addr) = self
            .walk()?
            .into_iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| H5Error::NotFound { path: self.path.clone(), dataset: name.to_string() })?;
        self.read_float(addr, name).map_err(|m| self.err(&format!("dataset {name}"), m))
    }

    /// The string (or string array) attribute `attr` of the root group, e.g. Keras's
    /// `layer_names`; `None` if the root has no such attribute in its object header (attributes
    /// in dense storage are not read).
    pub fn root_string_attribute(&self, attr: &str) -> Result<Option<Vec<String>>, H5Error> {
        let object = format!("attribute /{attr}");
        let msgs = self.messages(self.root).map_err(|m| self.err("group /", m))?;
        for m in msgs.iter().filter(|m| m.mtype == 0x0C) {
            let mut c = self.body(m);
            let found = self.string_attribute(&mut c, attr).map_err(|m| self.err(&object, m))?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Parse an attribute message; `Some(strings)` if it is named `want`.
    fn string_attribute(&self, c: &mut Cur<'_>, want: &str) -> R<Option<Vec<String>>> {
        let version = c.u8()?;
        if !(1..=3).contains(&version) {
            return Err(format!("attribute message version {version} is not supported"));
        }
        c.skip(1)?;
        let (name_len, type_len, space_len) = (c.u16()? as usize, c.u16()? as usize, c.u16()? as usize);
        if version == 3 {
            c.skip(1)?; // name character set
        }
        let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
        let name = c.bytes(pad(name_len))?;
        let name = &name[..name_len.min(name.len())];
        let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
        if name != want.as_bytes() {
            return Ok(None);
        }
        let mut t = Cur { buf: c.buf, pos: c.pos };
        c.skip(pad(type_len))?;
        let mut sp = Cur { buf: c.buf, pos: c.pos };
        c.skip(pad(space_len))?;
        let dims = self.dataspace(&mut sp)?;
        let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("attribute size overflows")?;
        let class_version = t.u8()?;
        let bits = t.bytes(3)?;
        let size = t.u32()? as usize;
        let mut out = Vec::with_capacity(n.min(4096));
        match class_version & 0x0f {
            3 => {
                if size == 0 {
                    return Err("zero-length string type".into());
                }
                for _ in 0..n {
                    let s = c.bytes(size)?;
                    let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
                    out.push(String::from_utf8_lossy(s).trim_end().to_string());
                }
            }
            9 if bits[0] & 0x0f == 1 => {
                for _ in 0..n {
                    let len = c.u32()? as usize;
                    let heap = c.uint(self.off_size)?;
                    let index = c.u32()?;
                    out.push(self.global_heap_string(heap, index, len)?);
                }
            }
            k => return Err(format!("attribute of type class {k} is not a string")),
        }
        Ok(Some(out))
    }

    /// Object `index` of the global heap collection at `addr`, as a string of `len` bytes.
    fn global_heap_string(&self, addr: u64, index: u32, len: usize) -> R<String> {
        let mut c = self.at(addr)?;
        if c.bytes(4)? != b"GCOL" {
            return Err("global heap collection has no GCOL signature".into());
        }
        c.skip(4)?;
        let size = c.uint(self.len_size)? as usize;
        let end = (c.pos - 8 - self.len_size).checked_add(size).ok_or("global heap size overflows")?;
        while c.pos + 8 + self.len_size <= end {
            let i = c.u16()?;
            c.skip(6)?;
            let osize = c.uint(self.len_size)? as usize;
            if i == 0 {
                break; // free space
            }
            let data = c.bytes(osize)?;
            if u32::from(i) == index {
                let s = data.get(..len).ok_or("global heap string is shorter than its length")?;
                return Ok(String::from_utf8_lossy(s).into_owned());
            }
            c.skip(osize.div_ceil(8) * 8 - osize)?;
        }
        Err(format!("global heap object {index} not found"))
    }

    fn read_float(&self, addr: u64, name: &str) -> R<FloatDataset> {
        let msgs = self.messages(addr)?;
        let (mut shape, mut elem, mut raw) = (None, None, None);
        for m in &msgs {
            if matches!(m.mtype, 0x01 | 0x03 | 0x08) && m.flags & 0x02 != 0 {
                return Err(format!("shared header message of type {} is not supported", m.mtype));
            }
            let mut c = self.body(m);
            match m.mtype {
                0x01 => shape = Some(self.dataspace(&mut c)?),
                0x03 => elem = Some(float_type(&mut c)?),
                0x08 => raw = Some(self.layout(&mut c)?),
                0x0B => return Err("filtered (e.g. compressed) datasets are not supported".into()),
                _ => {}
            }
        }
        let shape = shape.ok_or("dataset has no dataspace message")?;
        let (size, big_endian) = elem.ok_or("dataset has no datatype message")?;
        let (start, avail) = raw.ok_or("dataset has no layout message")?;
        let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("dataset size overflows")?;
        let nbytes = n.checked_mul(size).ok_or("dataset size overflows")?;
        if nbytes > avail {
            return Err(format!("dataset needs {nbytes} bytes but its storage holds {avail}"));
        }
        let bytes = start
            .checked_add(nbytes)
            .and_then(|e| self.data.get(start..e))
            .ok_or_else(|| format!("dataset data [{start}, +{nbytes}) is outside the file: truncated"))?;
        let values = bytes
            .chunks_exact(size)
            .map(|b| {
                let mut a = [0u8; 8];
                a[..size].copy_from_slice(b);
                if big_endian {
                    a[..size].reverse();
                }
                if size == 4 {
                    f64::from(f32::from_le_bytes([a[0], a[1], a[2], a[3]]))
                } else {
                    f64::from_le_bytes(a)
                }
            })
            .collect();
        Ok(FloatDataset { name: name.to_string(), shape, values })
    }

    fn dataspace(&self, c: &mut Cur<'_>) -> R<Vec<usize>> {
        let version = c.u8()?;
        let rank = c.u8()? as usize;
        let _flags = c.u8()?;
        match version {
            1 => c.skip(5)?,
            2 => {
                if c.u8()? == 2 {
                    return Err("null dataspace".into());
                }
            }
            v => return Err(format!("dataspace version {v} is not supported")),
        }
        (0..rank)
            .map(|_| {
                let d = c.uint(self.len_size)?;
                usize::try_from(d).map_err(|_| format!("dimension {d} is too large"))
            })
            .collect()
    }

    /// Data start (absolute file offset) and the number of bytes stored there.
    fn layout(&self, c: &mut Cur<'_>) -> R<(usize, usize)> {
        let version = c.u8()?;
        match version {
            1 | 2 => {
                let rank = c.u8()? as usize;
                let class = c.u8()?;
                c.skip(5)?;
                match class {
                    1 => {
                        let addr = c.uint(self.off_size)?;
                        if self.undefined(addr) {
                            return Err("dataset has no storage allocated".into());
                        }
                        Ok((self.at(addr)?.pos, usize::MAX))
                    }
                    0 => {
                        c.skip(4 * rank)?;
                        let size = c.u32()? as usize;
                        Ok((c.pos, size))
                    }
                    _ => Err("chunked datasets are not supported".into()),
                }
            }
            3 | 4 => match c.u8()? {
                0 => {
                    let size = c.u16()? as usize;
                    Ok((c.pos, size))
                }
                1 => {
                    let addr = c.uint(self.off_size)?;
                    let size = c.uint(self.len_size)? as usize;
                    if self.undefined(addr) {
                        return Err("dataset has no storage allocated".into());
                    }
                    Ok((self.at(addr)?.pos, size))
                }
                2 => Err("chunked datasets are not supported".into()),
                k => Err(format!("data layout class {k} is not supported")),
            },
            v => Err(format!("data layout message version {v} is not supported")),
        }
    }
}

fn check_sizes(o: usize, l: usize) -> R<()> {
    if ![2, 4, 8].contains(&o) || ![2, 4, 8].contains(&l) {
        return Err(format!("size of offsets {o} / lengths {l} is not supported (2, 4 or 8)"));
    }
    Ok(())
}

/// Element size (4 or 8) and byte order of an IEEE floating-point datatype message.
fn float_type(c: &mut Cur<'_>) -> R<(usize, bool)> {
    let cv = c.u8()?;
    let bits = c.bytes(3)?;
    let size = c.u32()? as usize;
    if cv & 0x0f != 1 {
        return Err(format!("element type class {} is not supported (only IEEE floats are)", cv & 0x0f));
    }
    let (offset, precision) = (c.u16()?, c.u16()?);
    let (eloc, esize, mloc, msize) = (c.u8()?, c.u8()?, c.u8()?, c.u8()?);
    let bias = c.u32()?;
    let ieee32 = (4, 0, 32, 23, 8, 0, 23, 127);
    let ieee64 = (8, 0, 64, 52, 11, 0, 52, 1023);
    let got = (size, offset, precision, eloc, esize, mloc, msize, bias);
    if bits[0] & 0x40 != 0 || (got != ieee32 && got != ieee64) {
        return Err(format!(
            "floating-point type (size {size}, precision {precision}, exponent {esize} bits) is not IEEE binary32/64"
        ));
    }
    Ok((size, bits[0] & 1 != 0))
}
