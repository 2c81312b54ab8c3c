//! The SNS calls this crate makes, typed, over deploykit-aws's Query client: GetTopicAttributes
//! (does the topic exist), CreateTopic, ListSubscriptionsByTopic and Subscribe. The deployer
//! IAM policy lists exactly these; this file names only `Service::SNS`.

use aws_types::SdkConfig;
use deploykit_aws::ErrorKind;
use deploykit_aws::query::{List, Params, QueryClient, Service, parse};
use serde::Deserialize;

use crate::error::AlarmsError;
use crate::plan::Subscription;

/// Pages read at most from ListSubscriptionsByTopic (100 a page).
const MAX_PAGES: usize = 50;

/// An SNS client for the alarm topic.
#[derive(Debug, Clone)]
pub struct Sns {
    q: QueryClient,
}

#[derive(Debug, Deserialize)]
struct CreateTopicResponse {
    #[serde(rename = "CreateTopicResult")]
    result: CreateTopicResult,
}

#[derive(Debug, Deserialize)]
struct CreateTopicResult {
    #[serde(rename = "TopicArn")]
    topic_arn: String,
}

#[derive(Debug, Deserialize)]
struct ListSubscriptionsResponse {
    #[serde(rename = "ListSubscriptionsByTopicResult")]
    result: ListSubscriptionsResult,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListSubscriptionsResult {
    #[serde(default)]
    subscriptions: List<Member>,
    next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Member {
    subscription_arn: Option<String>,
    protocol: Option<String>,
    endpoint: Option<String>,
}

impl Sns {
    pub fn new(sdk: &SdkConfig) -> Self {
        Sns {
            q: QueryClient::new(sdk, Service::SNS),
        }
    }

    /// Whether the topic exists (GetTopicAttributes; `NotFound` is `false`).
    pub async fn topic_exists(&self, arn: &str) -> Result<bool, AlarmsError> {
        let mut p = Params::new();
        p.set("TopicArn", arn);
        match self.q.call("GetTopicAttributes", &p).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AlarmsError::aws("GetTopicAttributes", arn, e)),
        }
    }

    /// Creates the topic (idempotent: an existing topic's ARN is returned) with deploykit's tag.
    pub async fn create_topic(&self, name: &str) -> Result<String, AlarmsError> {
        let mut p = Params::new();
        p.set("Name", name)
            .set("Tags.member.1.Key", crate::cloudwatch::MANAGED_BY.0)
            .set("Tags.member.1.Value", crate::cloudwatch::MANAGED_BY.1);
        let body = self
            .q
            .call("CreateTopic", &p)
            .await
            .map_err(|e| AlarmsError::aws("CreateTopic", name, e))?;
        let r: CreateTopicResponse =
            parse("CreateTopic", &body).map_err(|e| AlarmsError::aws("CreateTopic", name, e))?;
        Ok(r.result.topic_arn)
    }

    /// The topic's subscriptions, every page (pending ones have `PendingConfirmation` as ARN).
    pub async fn subscriptions(&self, arn: &str) -> Result<Vec<Subscription>, AlarmsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut p = Params::new();
            p.set("TopicArn", arn)
                .set_opt("NextToken", token.as_deref());
            let body = self
                .q
                .call("ListSubscriptionsByTopic", &p)
                .await
                .map_err(|e| AlarmsError::aws("ListSubscriptionsByTopic", arn, e))?;
            let r: ListSubscriptionsResponse = parse("ListSubscriptionsByTopic", &body)
                .map_err(|e| AlarmsError::aws("ListSubscriptionsByTopic", arn, e))?;
            out.extend(
                r.result
                    .subscriptions
                    .items
                    .into_iter()
                    .map(|m| Subscription {
                        protocol: m.protocol.unwrap_or_default(),
                        endpoint: m.endpoint.unwrap_or_default(),
                        arn: m.subscription_arn.unwrap_or_default(),
                    }),
            );
            token = r.result.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Subscribes `email` (SNS mails it a confirmation link; until then it is pending).
    pub async fn subscribe_email(&self, arn: &str, email: &str) -> Result<(), AlarmsError> {
        let mut p = Params::new();
        p.set("TopicArn", arn)
            .set("Protocol", "email")
            .set("Endpoint", email);
        self.q
            .call("Subscribe", &p)
            .await
            .map_err(|e| AlarmsError::aws("Subscribe", arn, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subscriptions_pending_or_confirmed() {
        let body = r#"<ListSubscriptionsByTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ListSubscriptionsByTopicResult><Subscriptions><member><SubscriptionArn>PendingConfirmation</SubscriptionArn><Owner>1</Owner><Protocol>email</Protocol><Endpoint>ops@example.com</Endpoint><TopicArn>t</TopicArn></member></Subscriptions><NextToken/></ListSubscriptionsByTopicResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListSubscriptionsByTopicResponse>"#;
        let r: ListSubscriptionsResponse = parse("ListSubscriptionsByTopic", body).expect("parses");
        assert_eq!(r.result.next_token.filter(|t| !t.is_empty()), None);
        let m = &r.result.subscriptions.items[0];
        assert_eq!(m.protocol.as_deref(), Some("email"));
        assert_eq!(m.subscription_arn.as_deref(), Some("PendingConfirmation"));
        let created = r#"<CreateTopicResponse><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:123456789012:a</TopicArn></CreateTopicResult></CreateTopicResponse>"#;
        let c: CreateTopicResponse = parse("CreateTopic", created).expect("parses");
        assert_eq!(c.result.topic_arn, "arn:aws:sns:us-east-1:123456789012:a");
    }
}
