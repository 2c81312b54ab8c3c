//! What a create or update of an Express service asks for, checked like ECS: service names,
//! Fargate sizes, the configuration merged over the current one with ECS's defaults.

use serde_json::{Map, Value, json};

use super::{ApiError, Result};

/// ECS service names: up to 255 letters, numbers, hyphens and underscores.
pub(super) fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid service name '{name}': up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed"
        )))
    }
}

/// Fargate's valid CPU (units) -> memory (MiB) ranges.
fn valid_size(cpu: u32, mem: u32) -> bool {
    match cpu {
        256 => [512, 1024, 2048].contains(&mem),
        512 => (1024..=4096).contains(&mem) && mem.is_multiple_of(1024),
        1024 => (2048..=8192).contains(&mem) && mem.is_multiple_of(1024),
        2048 => (4096..=16384).contains(&mem) && mem.is_multiple_of(1024),
        4096 => (8192..=30720).contains(&mem) && mem.is_multiple_of(1024),
        8192 => (16384..=61440).contains(&mem) && mem.is_multiple_of(4096),
        16384 => (32768..=122880).contains(&mem) && mem.is_multiple_of(8192),
        _ => false,
    }
}

/// The configuration a create (`current: None`) or update asks for, with ECS's defaults.
pub(super) fn configuration(input: &Value, current: Option<&Value>) -> Result<Value> {
    let base = current.cloned().unwrap_or_else(|| {
        json!({
            "cpu": "1024",
            "memory": "2048",
            "healthCheckPath": "/ping",
            "scalingTarget": { "minTaskCount": 1, "maxTaskCount": 20,
                               "autoScalingMetric": "AVERAGE_CPU", "autoScalingTargetValue": 60 },
            "cpuArchitecture": "X86_64",
        })
    });
    let mut out: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    out.remove("serviceRevisionArn");
    out.remove("taskDefinitionArn");
    out.remove("createdAt");
    for k in [
        "executionRoleArn",
        "taskRoleArn",
        "cpu",
        "memory",
        "healthCheckPath",
        "networkConfiguration",
        "cpuArchitecture",
    ] {
        if let Some(v) = input.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    if let Some(st) = input.get("scalingTarget").and_then(Value::as_object) {
        let mut merged = out
            .get("scalingTarget")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in st {
            merged.insert(k.clone(), v.clone());
        }
        out.insert("scalingTarget".into(), Value::Object(merged));
    }
    match input.get("primaryContainer") {
        Some(pc) => {
            let image = pc.get("image").and_then(Value::as_str).unwrap_or_default();
            if image.is_empty() {
                return Err(ApiError::invalid("primaryContainer.image must not be null"));
            }
            let mut pc = pc.clone();
            if pc.get("containerPort").is_none() {
                pc["containerPort"] = json!(80);
            }
            out.insert("primaryContainer".into(), pc);
        }
        None if current.is_none() => {
            return Err(ApiError::invalid("primaryContainer must not be null"));
        }
        None => {}
    }
    let num = |k: &str| {
        out.get(k)
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<u32>().ok())
    };
    match (num("cpu"), num("memory")) {
        (Some(c), Some(m)) if valid_size(c, m) => {}
        _ => {
            return Err(ApiError::client(format!(
                "No Fargate configuration exists for given values: {} CPU, {} memory",
                out.get("cpu").and_then(Value::as_str).unwrap_or("?"),
                out.get("memory").and_then(Value::as_str).unwrap_or("?")
            )));
        }
    }
    let path = out
        .get("healthCheckPath")
        .and_then(Value::as_str)
        .unwrap_or("/");
    if !path.starts_with('/') {
        return Err(ApiError::invalid(format!(
            "healthCheckPath must start with '/' (got '{path}')"
        )));
    }
    if let Some(st) = out.get("scalingTarget") {
        let min = st.get("minTaskCount").and_then(Value::as_i64).unwrap_or(1);
        let max = st
            .get("maxTaskCount")
            .and_then(Value::as_i64)
            .unwrap_or(min);
        if min < 0 || max < min {
            return Err(ApiError::invalid(format!(
                "scalingTarget needs 0 <= minTaskCount <= maxTaskCount (got {min}..{max})"
            )));
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes_follow_ecs_rules() {
        assert!(validate_name("budgetsync-web_1").is_ok());
        assert!(validate_name("bad name").is_err());
        assert!(validate_name("").is_err());
        assert!(valid_size(1024, 2048) && valid_size(256, 512));
        assert!(!valid_size(1024, 512) && !valid_size(300, 1024));
    }

    #[test]
    fn update_merges_over_the_current_configuration() {
        let create =
            json!({"primaryContainer": {"image": "h/a:1"}, "cpu": "512", "memory": "1024"});
        let c = configuration(&create, None).expect("create");
        assert_eq!(c["primaryContainer"]["containerPort"], json!(80));
        assert_eq!(c["healthCheckPath"], json!("/ping"));
        let u = configuration(&json!({"healthCheckPath": "/health"}), Some(&c)).expect("update");
        assert_eq!(u["primaryContainer"]["image"], json!("h/a:1"));
        assert_eq!(u["cpu"], json!("512"));
        assert_eq!(u["healthCheckPath"], json!("/health"));
        assert!(configuration(&json!({"cpu": "1024", "memory": "512"}), Some(&c)).is_err());
        assert!(configuration(&json!({}), None).is_err());
    }
}
