//! `emocue devices`: the cameras there are, with the modes `run` would pick from.

use std::path::Path;
use std::process::ExitCode;

use emocue::note;

use super::{load_config, say};

/// Runs `emocue devices`.
pub fn run(args: crate::DevicesArgs) -> anyhow::Result<ExitCode> {
    let crate::DevicesArgs { config } = args;
    let request = load_config(config.as_deref())?.camera.request();
    let nodes = emocue::capture::video_nodes(Path::new("/dev"));
    if nodes.is_empty() {
        note!(
            "emocue: no cameras found (no /dev/video* device nodes). Plug one in; if \
             it is plugged in, check its driver is loaded (USB cameras: \
             `lsmod | grep uvcvideo`), or in a container pass it through \
             (docker run --device /dev/video0)."
        );
    }
    for node in nodes {
        match emocue::capture::v4l2::query(&node, &request) {
            Ok(info) => {
                say(emocue::capture::describe_device(&info, &request).trim_end_matches('\n'))?
            }
            Err(e) => say(format_args!("{}: {e}", node.display()))?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
