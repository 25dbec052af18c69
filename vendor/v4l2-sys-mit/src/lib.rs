//! Raw V4L2 bindings, the API of v4l2-sys-mit 0.3.0 without its build-time bindgen
//! run: the bindings are generated once per architecture by
//! scripts/gen-v4l2-bindings.sh (same bindgen version and settings as upstream's
//! build script) and selected here by `target_arch`.

#![allow(clippy::all)]
#![allow(deref_nullptr)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(non_upper_case_globals)]

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
include!("bindings/x86_64.rs");

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
include!("bindings/aarch64.rs");

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
compile_error!(
    "vendor/v4l2-sys-mit has V4L2 bindings for x86_64 and aarch64 Linux only: \
     generate them for this target with scripts/gen-v4l2-bindings.sh ARCH \
     and add its line to vendor/v4l2-sys-mit/src/lib.rs"
);
