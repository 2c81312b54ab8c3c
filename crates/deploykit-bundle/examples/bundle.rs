//! `cargo run --release -p deploykit-bundle --example bundle -- APP_DIR OUT.zip`: the library
//! alone, without the CLI, for profiling and quick measurements.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(app), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: bundle APP_DIR OUT.zip".into());
    };
    let opts = deploykit_bundle::BundleOptions::new(app, out);
    deploykit_bundle::build(&opts, &deploykit_report::NullReporter)?;
    Ok(())
}
