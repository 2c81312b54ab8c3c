//! `deploykit`: the installed command line (`cargo install --path crates/deploykit-cli`).

fn main() -> std::process::ExitCode {
    deploykit_cli::main()
}
