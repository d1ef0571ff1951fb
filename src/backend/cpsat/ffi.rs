//! Loading OR-Tools' CP-SAT at run time through its C interface (`ortools/sat/c_api/cp_solver_c.h`:
//! serialized `CpModelProto` and `SatParameters` in, a serialized `CpSolverResponse` out).
//!
//! Why at run time: no Rust crate wraps CP-SAT without compiling OR-Tools' C++ SDK, while the
//! `ortools` Python wheel (pinned in `scripts/requirements-cpsat.txt`; `scripts/setup.sh`
//! installs it) ships a self-contained `libortools.so` that exports this interface. quiver builds without it; the `cpsat` backend answers `unknown` (unsupported, with
//! the reason) when the library cannot be found.
//!
//! Where the library is looked for, first hit wins:
//! 1. `QUIVER_ORTOOLS_LIB`: the path of `libortools.so*` itself;
//! 2. `ortools/.libs/libortools.so*` in `$QUIVER_ORTOOLS_DIR` or `~/.cache/quiver-ortools`
//!    (where `scripts/setup.sh` puts it), then in the `site-packages`/`dist-packages` of
//!    `$VIRTUAL_ENV`, `~/.cache/quiver-venv`, `~/.local`, `/usr/local`, `/usr`;
//! 3. the `ortools` package of `python3` on `PATH` (asked once, by running it).

use super::proto::{CpModelProto, CpSolverResponse, SatParameters};
use crate::budget::Budget;
use prost::Message;
use std::ffi::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

type SolveFn =
    unsafe extern "C" fn(*mut c_void, *const c_void, c_int, *const c_void, c_int, *mut *mut c_void, *mut c_int);
type NewEnvFn = unsafe extern "C" fn() -> *mut c_void;
type EnvFn = unsafe extern "C" fn(*mut c_void);

/// The loaded library and its four entry points.
pub struct CpSatLib {
    path: PathBuf,
    solve: SolveFn,
    new_env: NewEnvFn,
    destroy_env: EnvFn,
    stop_search: EnvFn,
    // Keeps the entry points valid; never unloaded (a process-wide OnceLock).
    _lib: libloading::Library,
}

/// A solve environment (`SolveCpNewEnv`); `SolveCpStopSearch` may be called on it from another
/// thread while a solve runs on it.
struct Env(*mut c_void);
// SAFETY: the C interface documents the environment as usable from a second thread for
// `SolveCpStopSearch`; quiver calls nothing else on it concurrently.
unsafe impl Send for Env {}
unsafe impl Sync for Env {}

static LIB: OnceLock<Result<CpSatLib, String>> = OnceLock::new();

/// The process-wide CP-SAT library, loaded on first use (the error says where it looked).
pub fn library() -> Result<&'static CpSatLib, String> {
    LIB.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<CpSatLib, String> {
    let candidates = candidates();
    let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
        return Err("OR-Tools' CP-SAT library was not found (looked for libortools.so in QUIVER_ORTOOLS_LIB, \
             QUIVER_ORTOOLS_DIR, ~/.cache/quiver-ortools, the site-packages of $VIRTUAL_ENV, ~/.cache/quiver-venv, ~/.local, /usr/local, /usr and \
             python3's `ortools` package); run scripts/setup.sh, or `pip install --no-deps --target \
             ~/.cache/quiver-ortools ortools==9.15.6755`, or set QUIVER_ORTOOLS_LIB to the library's path"
            .to_string());
    };
    // SAFETY: loading runs the library's initialisers; libortools is a regular shared library
    // whose RUNPATH ($ORIGIN) resolves its own dependencies.
    let lib = unsafe { libloading::Library::new(&path) }.map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    // SAFETY: the signatures are those of cp_solver_c.h (OR-Tools ≥ 9.13).
    unsafe {
        let sym = |name: &[u8]| {
            format!("{} has no `{}` (OR-Tools 9.15 is known to work)", path.display(), String::from_utf8_lossy(name))
        };
        let solve = *lib.get::<SolveFn>(b"SolveCpInterruptible\0").map_err(|_| sym(b"SolveCpInterruptible"))?;
        let new_env = *lib.get::<NewEnvFn>(b"SolveCpNewEnv\0").map_err(|_| sym(b"SolveCpNewEnv"))?;
        let destroy_env = *lib.get::<EnvFn>(b"SolveCpDestroyEnv\0").map_err(|_| sym(b"SolveCpDestroyEnv"))?;
        let stop_search = *lib.get::<EnvFn>(b"SolveCpStopSearch\0").map_err(|_| sym(b"SolveCpStopSearch"))?;
        Ok(CpSatLib { path, solve, new_env, destroy_env, stop_search, _lib: lib })
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("QUIVER_ORTOOLS_LIB") {
        out.push(PathBuf::from(p));
        return out;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(d) = std::env::var_os("QUIVER_ORTOOLS_DIR") {
        out.extend(libs_in(&PathBuf::from(d).join("ortools")));
    }
    if let Some(h) = &home {
        out.extend(libs_in(&h.join(".cache/quiver-ortools/ortools")));
    }
    let mut prefixes: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        prefixes.push(PathBuf::from(v));
    }
    if let Some(h) = &home {
        prefixes.push(h.join(".cache/quiver-venv"));
        prefixes.push(h.join(".local"));
    }
    prefixes.extend([PathBuf::from("/usr/local"), PathBuf::from("/usr")]);
    for prefix in prefixes {
        for pkg in site_packages(&prefix) {
            out.extend(libs_in(&pkg.join("ortools")));
        }
    }
    if out.iter().all(|p| !p.is_file()) {
        if let Some(dir) = python_ortools_dir() {
            out.extend(libs_in(&dir));
        }
    }
    out
}

/// `PREFIX/lib/python3*/{site,dist}-packages`.
fn site_packages(prefix: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(prefix.join("lib")) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .flat_map(|e| [e.path().join("site-packages"), e.path().join("dist-packages")])
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// `libortools.so*` in `PKG/.libs`.
fn libs_in(pkg: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(pkg.join(".libs")) else { return Vec::new() };
    let mut libs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("libortools.so"))
        .map(|e| e.path())
        .collect();
    libs.sort();
    libs
}

fn python_ortools_dir() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import os, ortools; print(os.path.dirname(ortools.__file__))"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

impl CpSatLib {
    /// Where the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Solve `model` with `params`; [`Budget::stop`] (the deadline, Ctrl-C, a portfolio's
    /// first answer) stops the search, which then returns status `UNKNOWN`. Errors: a response
    /// that does not decode, or a model too large for the C interface's `int` lengths.
    pub fn solve(
        &self,
        model: &CpModelProto,
        params: &SatParameters,
        budget: &Budget,
    ) -> Result<CpSolverResponse, String> {
        let req = model.encode_to_vec();
        let par = params.encode_to_vec();
        let req_len =
            c_int::try_from(req.len()).map_err(|_| format!("CP-SAT model of {} bytes is too large", req.len()))?;
        let par_len = c_int::try_from(par.len()).map_err(|_| "CP-SAT parameters too large".to_string())?;
        // SAFETY: SolveCpNewEnv has no preconditions; the environment is destroyed below, after
        // the stop registration that refers to it has been dropped (StopGuard's drop waits for a
        // running interrupter).
        let env = std::sync::Arc::new(Env(unsafe { (self.new_env)() }));
        let stop = self.stop_search;
        let e = env.clone();
        // SAFETY: `e.0` is a live environment for as long as the guard exists.
        let guard = budget.on_stop(move || unsafe { stop(e.0) });
        let mut res: *mut c_void = std::ptr::null_mut();
        let mut res_len: c_int = 0;
        // SAFETY: the buffers are valid for the given lengths (well-formed protobuf messages,
        // which the C++ side CHECKs); the response buffer is malloc'ed by the library and freed
        // with libc's free below.
        unsafe {
            (self.solve)(env.0, req.as_ptr().cast(), req_len, par.as_ptr().cast(), par_len, &mut res, &mut res_len)
        };
        drop(guard);
        // SAFETY: no other reference uses the environment any more.
        unsafe { (self.destroy_env)(env.0) };
        if res.is_null() {
            return Err("CP-SAT returned no response".into());
        }
        let len = usize::try_from(res_len).unwrap_or(0);
        // SAFETY: the library wrote `res_len` bytes at `res`.
        let bytes = unsafe { std::slice::from_raw_parts(res.cast::<u8>(), len) }.to_vec();
        // SAFETY: allocated with malloc by the library (strings::memdup).
        unsafe { libc::free(res) };
        CpSolverResponse::decode(bytes.as_slice()).map_err(|e| format!("CP-SAT response does not decode: {e}"))
    }
}
