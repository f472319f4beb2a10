// Minimal dispatcher written by the sdk engineer so `cargo xtask sdk` can run; the xtask
// owner replaces this file with the real one (doctor, fetch-webrtc, build, …).
use clap::{Parser, Subcommand};

mod sdk;
mod test;

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a WebRTC SDK directory (webrtc-sdk.toml) for webrtc-sys.
    Sdk(sdk::SdkArgs),
    /// Run every test of the workspace, installing the host packages the tests need.
    Test(test::TestArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = (|| {
        let sh = xshell::Shell::new()?;
        sh.change_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("xtask/ is inside the workspace"),
        );
        match cli.command {
            Command::Sdk(args) => sdk::run(&sh, args),
            Command::Test(args) => test::run(&sh, args),
        }
    })();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
