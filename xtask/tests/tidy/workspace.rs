//! The workspace as `cargo metadata` and `cargo tree` see it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::json::Json;

pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) packages: BTreeMap<String, Package>,
    pub(crate) member_ids: Vec<String>,
    /// `name version` -> what it depends on through normal and build edges, with the features
    /// a `cargo build --workspace` resolves (from `cargo tree`).
    graph: BTreeMap<String, BTreeSet<String>>,
}

pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) dir: PathBuf,
    pub(crate) deps: Vec<Dep>,
}

pub(crate) struct Dep {
    pub(crate) name: String,
    /// The key in the manifest when it differs from the package name (`md5 = { package = "md-5" }`).
    pub(crate) rename: Option<String>,
    /// The name the sources use (`aws_sdk_s3`, or the rename).
    pub(crate) extern_name: String,
    /// "normal", "dev" or "build".
    pub(crate) kind: String,
    pub(crate) target: Option<String>,
    pub(crate) features: BTreeSet<String>,
    pub(crate) default_features: bool,
}

pub(crate) fn workspace() -> &'static Workspace {
    static WS: OnceLock<Workspace> = OnceLock::new();
    WS.get_or_init(|| {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        // The graph this machine builds (no Windows or wasm crates).
        let host = host_triple();
        let args = [
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ];
        let meta = Json::parse(&cargo(&here, &args));
        let root = PathBuf::from(meta["workspace_root"].str());
        let mut resolve = BTreeMap::new();
        let mut extern_names: BTreeMap<(String, String), String> = BTreeMap::new();
        for node in meta["resolve"]["nodes"].arr() {
            let id = node["id"].str().to_string();
            let mut edges = Vec::new();
            for d in node["deps"].arr() {
                let pkg = d["pkg"].str().to_string();
                let shipped = d["dep_kinds"]
                    .arr()
                    .iter()
                    .any(|k| k["kind"].opt_str() != Some("dev"));
                extern_names.insert((id.clone(), pkg.clone()), d["name"].str().to_string());
                edges.push((pkg, shipped));
            }
            resolve.insert(id, edges);
        }
        let mut packages = BTreeMap::new();
        for p in meta["packages"].arr() {
            let id = p["id"].str().to_string();
            let name_of = |dep: &str| {
                let edges = resolve.get(&id).into_iter().flatten();
                let pkg = edges
                    .map(|(pkg, _)| pkg)
                    .find(|pkg| pkg_name(&meta, pkg) == Some(dep));
                pkg.and_then(|pkg| extern_names.get(&(id.clone(), pkg.clone())).cloned())
            };
            let deps = p["dependencies"]
                .arr()
                .iter()
                .map(|d| Dep {
                    name: d["name"].str().to_string(),
                    rename: d["rename"].opt_str().map(str::to_string),
                    extern_name: d["rename"]
                        .opt_str()
                        .map(|r| r.replace('-', "_"))
                        .or_else(|| name_of(d["name"].str()))
                        .unwrap_or_else(|| d["name"].str().replace('-', "_")),
                    kind: d["kind"].opt_str().unwrap_or("normal").to_string(),
                    target: d["target"].opt_str().map(str::to_string),
                    features: d["features"]
                        .arr()
                        .iter()
                        .map(|f| f.str().to_string())
                        .collect(),
                    default_features: d["uses_default_features"] == Json::Bool(true),
                })
                .collect();
            let manifest = PathBuf::from(p["manifest_path"].str());
            let pkg = Package {
                name: p["name"].str().to_string(),
                version: p["version"].str().to_string(),
                dir: manifest.parent().unwrap().to_path_buf(),
                deps,
            };
            packages.insert(id, pkg);
        }
        let tree = cargo(
            &root,
            &[
                "tree",
                "--workspace",
                "-e",
                "normal,build",
                "--prefix",
                "depth",
                "-f",
                "{p}",
            ],
        );
        let graph = tree_edges(&tree).into_iter().fold(
            BTreeMap::new(),
            |mut g: BTreeMap<_, BTreeSet<_>>, (from, to)| {
                g.entry(from).or_default().insert(to);
                g
            },
        );
        let member_ids = meta["workspace_members"]
            .arr()
            .iter()
            .map(|m| m.str().to_string())
            .collect();
        Workspace {
            root,
            packages,
            member_ids,
            graph,
        }
    })
}

fn pkg_name<'a>(meta: &'a Json, id: &str) -> Option<&'a str> {
    meta["packages"]
        .arr()
        .iter()
        .find(|p| p["id"].str() == id)
        .map(|p| p["name"].str())
}

impl Workspace {
    pub(crate) fn members(&self) -> impl Iterator<Item = &Package> {
        self.member_ids.iter().map(|id| &self.packages[id])
    }

    pub(crate) fn member(&self, name: &str) -> Option<&Package> {
        self.members().find(|p| p.name == name)
    }

    /// For each package reachable from member `from` whose name matches, the shortest path to
    /// it (package names), over the shipped (normal and build) edges.
    pub(crate) fn paths_to(&self, from: &Package, hit: impl Fn(&str) -> bool) -> Vec<Vec<String>> {
        let root = format!("{} v{}", from.name, from.version);
        let name = |key: &str| key.split(' ').next().unwrap_or(key).to_string();
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([root.as_str()]);
        let mut found = Vec::new();
        while let Some(at) = queue.pop_front() {
            for dep in self.graph.get(at).into_iter().flatten() {
                if *dep == root || prev.contains_key(dep.as_str()) {
                    continue;
                }
                prev.insert(dep, at);
                queue.push_back(dep);
                if hit(&name(dep)) {
                    let mut path = vec![name(dep)];
                    let mut back = at;
                    while back != root {
                        path.push(name(back));
                        back = prev[back];
                    }
                    path.push(from.name.clone());
                    path.reverse();
                    found.push(path);
                }
            }
        }
        found
    }

    pub(crate) fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }
}

fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .unwrap_or_else(|e| panic!("{rustc} -vV: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text.lines().find_map(|l| l.strip_prefix("host: "));
    host.unwrap_or_else(|| panic!("{rustc} -vV names no host: {text}"))
        .to_string()
}

pub(crate) fn cargo(dir: &Path, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {cargo} {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{cargo} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo prints UTF-8")
}

/// Edges (`name version` of the parent, of the child) of `cargo tree --prefix depth -f {p}`;
/// with `--invert` (as `-d` prints) the child is the dependent.
pub(crate) fn tree_edges(tree: &str) -> Vec<(String, String)> {
    let mut stack: Vec<String> = Vec::new();
    let mut edges = Vec::new();
    for line in tree.lines() {
        let digits = line.chars().take_while(char::is_ascii_digit).count();
        let Ok(depth) = line[..digits].parse::<usize>() else {
            continue;
        };
        let key = line[digits..]
            .split(' ')
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        stack.truncate(depth);
        if let Some(parent) = stack.last() {
            edges.push((parent.clone(), key.clone()));
        }
        stack.push(key);
    }
    edges
}

/// `(package, features)` pairs of a `cargo tree` invocation.
pub(crate) fn tree_features(root: &Path, args: &[&str]) -> BTreeSet<(String, String)> {
    let out = cargo(
        root,
        &[&["tree", "--prefix", "none", "-f", "{p}|{f}"], args].concat(),
    );
    out.lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(p, f)| {
            (
                p.trim().to_string(),
                f.trim_end_matches(" (*)").trim().to_string(),
            )
        })
        .collect()
}
