//! Deploys deploy.toml's app to the `local` target (the local cloud started when not running,
//! this program serving its edge): `cargo run -p deploykit --example deploy_local [CONFIG]`
#![allow(clippy::print_stdout)]

use deploykit::Project;
use deploykit::eb::{self, EbDeployRequest, EbPlanning, EbSession};
use deploykit::local::EdgeLauncher;
use deploykit::report::{Event, Reporter};

#[derive(Debug)]
struct Print; // progress events as lines; a real front end renders them
impl Reporter for Print {
    fn report(&self, e: Event) {
        println!("{e:?}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, _, port] = args.as_slice()
        && cmd == "serve-edge"
    {
        return Ok(deploykit::local::run_edge(port.parse()?)?); // the local cloud's edge
    }
    let config = args.get(1).map_or("deploy.toml", String::as_str);
    let project = Project::load(config.as_ref())?
        .start_local_cloud_with(EdgeLauncher::current_exe(&["serve-edge"])?);
    let events = Print;
    let mut session = EbSession::new(project.connect(Some("local"), &events).await?);
    let req = EbDeployRequest::default();
    let EbPlanning::Planned(planned) = eb::plan_deploy(&mut session, &req, &events).await? else {
        unreachable!("a real run makes what the local target lacks");
    };
    println!("{}\n{}", planned.preflight, planned.plan);
    let deployed = eb::apply_deploy(&session, *planned, &req, &events).await?;
    println!(
        "deployed {} to {}",
        deployed.outcome.label,
        deployed.outcome.url.unwrap_or_default()
    );
    Ok(())
}
