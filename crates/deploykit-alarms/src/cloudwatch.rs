//! The CloudWatch calls this crate makes, typed, over deploykit-aws's Query client
//! ([`deploykit_aws::query`]): DescribeAlarms, PutMetricAlarm and DeleteAlarms. The deployer
//! IAM policy (deploykit-iam) lists exactly these; its test finds them by their
//! `.call("Action", ..)` shape in this file, which names only `Service::CLOUDWATCH`.
//!
//! Why not aws-sdk-cloudwatch: its recent releases speak Smithy RPC v2 CBOR only, and the
//! pinned moto (5.2.1) answers that protocol's `/service/GraniteServiceVersion20100801/...`
//! path with 404, while it serves the Query protocol (form POST, XML answer) as AWS does.

use aws_types::SdkConfig;
use deploykit_aws::query::{List, Params, QueryClient, Service, parse};
use serde::Deserialize;

use crate::error::AlarmsError;
use crate::spec::{AlarmSpec, Dimension, MISSING};

/// Pages read at most from DescribeAlarms (100 alarms a page).
const MAX_PAGES: usize = 50;

/// The tags every alarm deploykit creates carries.
pub const MANAGED_BY: (&str, &str) = ("managed-by", "deploykit");

/// A CloudWatch client for alarms.
#[derive(Debug, Clone)]
pub struct CloudWatch {
    q: QueryClient,
}

#[derive(Debug, Deserialize)]
struct DescribeAlarmsResponse {
    #[serde(rename = "DescribeAlarmsResult")]
    result: DescribeAlarmsResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeAlarmsResult {
    #[serde(default)]
    metric_alarms: List<MetricAlarm>,
    next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricAlarm {
    alarm_name: String,
    alarm_description: Option<String>,
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: List<Dim>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    period: Option<u32>,
    evaluation_periods: Option<u32>,
    datapoints_to_alarm: Option<u32>,
    threshold: Option<f64>,
    comparison_operator: Option<String>,
    treat_missing_data: Option<String>,
    #[serde(default)]
    alarm_actions: List<String>,
    #[serde(rename = "OKActions", default)]
    ok_actions: List<String>,
    actions_enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Dim {
    name: String,
    value: String,
}

impl MetricAlarm {
    fn into_spec(self) -> AlarmSpec {
        let evaluation_periods = self.evaluation_periods.unwrap_or(0);
        AlarmSpec {
            name: self.alarm_name,
            description: self.alarm_description.unwrap_or_default(),
            namespace: self.namespace.unwrap_or_default(),
            metric_name: self.metric_name.unwrap_or_default(),
            dimensions: self
                .dimensions
                .items
                .into_iter()
                .map(|d| Dimension::new(d.name, d.value))
                .collect(),
            statistic: self
                .statistic
                .or(self.extended_statistic)
                .unwrap_or_default(),
            period_seconds: self.period.unwrap_or(0),
            evaluation_periods,
            // Unset means "all of the evaluation periods".
            datapoints_to_alarm: self.datapoints_to_alarm.unwrap_or(evaluation_periods),
            threshold: self.threshold.unwrap_or(f64::NAN),
            comparison_operator: self.comparison_operator.unwrap_or_default(),
            treat_missing_data: self.treat_missing_data.unwrap_or_else(|| MISSING.into()),
            alarm_actions: self.alarm_actions.items,
            ok_actions: self.ok_actions.items,
            actions_enabled: self.actions_enabled.unwrap_or(true),
        }
        .normalized()
    }
}

impl CloudWatch {
    pub fn new(sdk: &SdkConfig) -> Self {
        CloudWatch {
            q: QueryClient::new(sdk, Service::CLOUDWATCH),
        }
    }

    /// The metric alarms whose names start with `prefix`, every page.
    pub async fn alarms_with_prefix(&self, prefix: &str) -> Result<Vec<AlarmSpec>, AlarmsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p = Params::new();
            p.set("AlarmNamePrefix", prefix)
                .list("AlarmTypes.member", ["MetricAlarm"])
                .set("MaxRecords", 100)
                .set_opt("NextToken", token.as_deref());
            let body = self
                .q
                .call("DescribeAlarms", &p)
                .await
                .map_err(|e| AlarmsError::aws("DescribeAlarms", prefix, e))?;
            let r: DescribeAlarmsResponse = parse("DescribeAlarms", &body)
                .map_err(|e| AlarmsError::aws("DescribeAlarms", prefix, e))?;
            out.extend(
                r.result
                    .metric_alarms
                    .items
                    .into_iter()
                    .map(MetricAlarm::into_spec),
            );
            token = r.result.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// Creates or replaces the alarm (PutMetricAlarm sets every field; tags apply on create).
    pub async fn put_alarm(&self, a: &AlarmSpec) -> Result<(), AlarmsError> {
        let mut p = Params::new();
        p.set("AlarmName", &a.name)
            .set("AlarmDescription", &a.description)
            .set("Namespace", &a.namespace)
            .set("MetricName", &a.metric_name);
        for (i, d) in a.dimensions.iter().enumerate() {
            p.set(format!("Dimensions.member.{}.Name", i + 1), &d.name)
                .set(format!("Dimensions.member.{}.Value", i + 1), &d.value);
        }
        if a.is_extended_statistic() {
            p.set("ExtendedStatistic", &a.statistic);
        } else {
            p.set("Statistic", &a.statistic);
        }
        p.set("Period", a.period_seconds)
            .set("EvaluationPeriods", a.evaluation_periods)
            .set("DatapointsToAlarm", a.datapoints_to_alarm)
            .set("Threshold", a.threshold)
            .set("ComparisonOperator", &a.comparison_operator)
            .set("TreatMissingData", &a.treat_missing_data)
            .set("ActionsEnabled", a.actions_enabled)
            .list("AlarmActions.member", &a.alarm_actions)
            .list("OKActions.member", &a.ok_actions)
            .set("Tags.member.1.Key", MANAGED_BY.0)
            .set("Tags.member.1.Value", MANAGED_BY.1);
        self.q
            .call("PutMetricAlarm", &p)
            .await
            .map_err(|e| AlarmsError::aws("PutMetricAlarm", &a.name, e))?;
        Ok(())
    }

    /// Deletes the alarms (at most 100 names a call).
    pub async fn delete_alarms(&self, names: &[String]) -> Result<(), AlarmsError> {
        for chunk in names.chunks(100) {
            let mut p = Params::new();
            p.list("AlarmNames.member", chunk);
            self.q
                .call("DeleteAlarms", &p)
                .await
                .map_err(|e| AlarmsError::aws("DeleteAlarms", chunk.join(", "), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_describe_alarms_answer() {
        let body = r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><DescribeAlarmsResult><CompositeAlarms/><MetricAlarms><member><AlarmName>a-dev-db-cpu</AlarmName><AlarmDescription>x</AlarmDescription><ActionsEnabled>true</ActionsEnabled><OKActions><member>arn:aws:sns:us-east-1:123456789012:t</member></OKActions><AlarmActions/><InsufficientDataActions/><StateValue>OK</StateValue><MetricName>CPUUtilization</MetricName><Namespace>AWS/RDS</Namespace><ExtendedStatistic>p95</ExtendedStatistic><Dimensions><member><Name>DBInstanceIdentifier</Name><Value>db1</Value></member></Dimensions><Period>300</Period><EvaluationPeriods>3</EvaluationPeriods><Threshold>80.5</Threshold><ComparisonOperator>GreaterThanThreshold</ComparisonOperator><Metrics/></member></MetricAlarms><NextToken>n1</NextToken></DescribeAlarmsResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeAlarmsResponse>"#;
        let r: DescribeAlarmsResponse = parse("DescribeAlarms", body).expect("parses");
        assert_eq!(r.result.next_token.as_deref(), Some("n1"));
        let a: Vec<AlarmSpec> = r
            .result
            .metric_alarms
            .items
            .into_iter()
            .map(MetricAlarm::into_spec)
            .collect();
        assert_eq!(a.len(), 1);
        let a = &a[0];
        assert_eq!(a.name, "a-dev-db-cpu");
        assert_eq!(a.statistic, "p95");
        assert_eq!(a.threshold, 80.5);
        assert_eq!(a.datapoints_to_alarm, 3, "unset: all evaluation periods");
        assert_eq!(a.treat_missing_data, "missing");
        assert!(a.alarm_actions.is_empty());
        assert_eq!(a.ok_actions, vec!["arn:aws:sns:us-east-1:123456789012:t"]);
        assert_eq!(
            a.dimensions,
            vec![Dimension::new("DBInstanceIdentifier", "db1")]
        );
    }
}
