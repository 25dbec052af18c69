//! Writes the V4L2 bindings for one target exactly as v4l2-sys-mit 0.3.0's build
//! script does (`bindgen::Builder::default().header("wrapper.h")`, no other option), so
//! the pre-generated files in vendor/v4l2-sys-mit are what that build script would
//! have produced. The target comes from `TARGET` and the sysroot from
//! `BINDGEN_EXTRA_CLANG_ARGS_<target>`, as in a build script; run it through
//! scripts/gen-v4l2-bindings.sh, which sets both.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(header), Some(out), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: gen-v4l2-bindings WRAPPER.h OUT.rs (run scripts/gen-v4l2-bindings.sh)");
        return ExitCode::from(2);
    };
    let header = PathBuf::from(header);
    let Some(header) = header.to_str() else {
        eprintln!(
            "gen-v4l2-bindings: the header path is not UTF-8: {}",
            header.display()
        );
        return ExitCode::from(2);
    };
    let bindings = match bindgen::Builder::default().header(header).generate() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gen-v4l2-bindings: bindgen failed on {header}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = PathBuf::from(out);
    if let Err(e) = bindings.write_to_file(&out) {
        eprintln!("gen-v4l2-bindings: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
