//! Which units a shape uses and how many: one function per part of the bill. Prices come
//! only from the table, through [`Builder::line`].

use crate::shape::{Compute, DatabaseShape, Shape};
use crate::{Assumptions, Gap, LineItem, Lookup, PriceTable, Range, Service};

/// Every line of `shape`, in bill order.
pub(crate) fn all(b: &mut Builder<'_>, shape: &Shape, assumptions: &Assumptions) {
    let a = assumptions;
    compute_lines(b, &shape.compute, a);
    if let Some(db) = &shape.database {
        database_lines(b, db, a);
    }
    if let Some(bucket) = &shape.app_bucket {
        let q = Range::from(a.s3.storage_gb);
        b.line(
            "s3.storage",
            Service::S3,
            "S3 Standard storage (app bucket)",
            "s3.standard",
            q,
            true,
            format!(
                "bucket `{bucket}`: static files and uploads, assumed {}",
                gb(q)
            ),
        );
        let q = Range::from(a.s3.put_requests).scale(1.0 / 1000.0);
        b.line(
            "s3.put",
            Service::S3,
            "S3 PUT/COPY/POST/LIST requests",
            "s3.put",
            q,
            true,
            format!(
                "assumed {} requests a month",
                count(Range::from(a.s3.put_requests))
            ),
        );
        let q = Range::from(a.s3.get_requests).scale(1.0 / 1000.0);
        b.line(
            "s3.get",
            Service::S3,
            "S3 GET requests",
            "s3.get",
            q,
            true,
            format!(
                "assumed {} requests a month",
                count(Range::from(a.s3.get_requests))
            ),
        );
    }
    let secrets =
        shape.app_secrets + u32::from(shape.database.is_some() && shape.rds_managed_secret);
    if secrets > 0 {
        let mut note = format!("{} in [secrets]", shape.app_secrets);
        if shape.database.is_some() && shape.rds_managed_secret {
            note.push_str(" + 1 RDS keeps for the master password");
        }
        b.line(
            "secrets.secrets",
            Service::Secrets,
            "Secrets Manager secrets",
            "secretsmanager.secret",
            Range::fixed(f64::from(secrets)),
            false,
            note,
        );
        let q = Range::from(a.secrets.api_calls).scale(1.0 / 10_000.0);
        b.line(
            "secrets.api",
            Service::Secrets,
            "Secrets Manager API calls",
            "secretsmanager.api",
            q,
            true,
            format!(
                "assumed {} calls a month (deploys, starts, app reads)",
                count(Range::from(a.secrets.api_calls))
            ),
        );
    }
    if shape.streams_logs {
        let q = Range::from(a.cloudwatch.logs_ingest_gb);
        b.line(
            "cloudwatch.logs",
            Service::CloudWatch,
            "CloudWatch Logs ingestion",
            "cloudwatch.logs_ingest",
            q,
            true,
            format!(
                "assumed {} of app and platform logs a month; stored logs (GB-month) not included",
                gb(q)
            ),
        );
    }
    let q = Range::from(a.cloudwatch.alarms);
    b.line("cloudwatch.alarms", Service::CloudWatch, "CloudWatch alarms", "cloudwatch.alarm", q, true,
        "the seed's alarms (app CPU and 5xx, RDS CPU and free storage); deploykit does not create them yet; the free tier's 10 alarms are not subtracted".into());
    let (q, assumed, note) = if shape.hosted_zone {
        (
            Range::fixed(1.0),
            false,
            "the hosted zone deploy.toml names".to_owned(),
        )
    } else {
        (Range::from(a.route53.optional_hosted_zones), true,
            "deploy.toml names no hosted zone; the seed counts one as optional (domain fee not included)".to_owned())
    };
    b.line(
        "dns.zone",
        Service::Dns,
        "Route 53 hosted zone",
        "route53.hosted_zone",
        q,
        assumed,
        note,
    );
}

fn compute_lines(b: &mut Builder<'_>, compute: &Compute, a: &Assumptions) {
    let h = b.hours;
    match compute {
        Compute::Eb {
            instance_type,
            load_balanced: false,
        } => {
            b.line(
                "compute.instance",
                Service::Compute,
                &format!("EC2 {instance_type} (EB instance)"),
                &format!("ec2.{instance_type}"),
                Range::fixed(h),
                false,
                format!("1 instance x {h} h; single-instance environment, no load balancer"),
            );
            let q = Range::from(a.eb.root_volume_gb);
            b.line(
                "storage.root_volume",
                Service::Storage,
                "EBS gp3 root volume",
                "ebs.gp3",
                q,
                true,
                format!(
                    "deploy.toml sets no root volume: the AL2023 AMI's {}",
                    gb(q)
                ),
            );
            b.line("network.instance_ipv4", Service::Network, "Public IPv4 address (instance)", "vpc.public_ipv4",
                Range::fixed(h), false,
                "the instance's Elastic IP; AWS bills every public IPv4 address since 2024 (the seed predates this)".into());
        }
        Compute::Eb {
            instance_type,
            load_balanced: true,
        } => {
            let n = Range::from(a.eb.load_balanced_instances);
            b.line(
                "compute.instance",
                Service::Compute,
                &format!("EC2 {instance_type} (EB instances)"),
                &format!("ec2.{instance_type}"),
                n.scale(h),
                true,
                format!(
                    "{} instance(s) (Auto Scaling minimum, assumed) x {h} h",
                    count(n)
                ),
            );
            let q = Range::from(a.eb.root_volume_gb).times(n);
            b.line(
                "storage.root_volume",
                Service::Storage,
                "EBS gp3 root volumes",
                "ebs.gp3",
                q,
                true,
                "deploy.toml sets no root volume: the AL2023 AMI's 8 GB per instance".into(),
            );
            b.line(
                "network.instance_ipv4",
                Service::Network,
                "Public IPv4 addresses (instances)",
                "vpc.public_ipv4",
                n.scale(h),
                true,
                "instances in the default VPC's public subnets get a public address".into(),
            );
            alb_lines(b, a, Range::fixed(1.0), "the environment's load balancer");
        }
        Compute::AppRunner {
            vcpu,
            memory_gb,
            min_instances,
        } => {
            let n = f64::from(*min_instances);
            let active = Range::from(a.apprunner.active_hours);
            let idle = Range::fixed(h).minus(active);
            b.line(
                "compute.apprunner_vcpu",
                Service::Compute,
                "App Runner active vCPU",
                "apprunner.vcpu",
                active.scale(n * vcpu),
                true,
                format!(
                    "{min_instances} x {vcpu} vCPU while serving: assumed {} h a month",
                    count(active)
                ),
            );
            b.line(
                "compute.apprunner_memory",
                Service::Compute,
                "App Runner active memory",
                "apprunner.memory",
                active.scale(n * memory_gb),
                true,
                format!("{min_instances} x {memory_gb} GB while serving"),
            );
            b.line("compute.apprunner_idle", Service::Compute, "App Runner provisioned memory (idle)",
                "apprunner.provisioned_memory", idle.scale(n * memory_gb), true,
                format!("{min_instances} x {memory_gb} GB for the rest of the month (the low scenario idles more)"));
        }
        Compute::EcsExpress {
            vcpu,
            memory_gb,
            min_tasks,
        } => {
            let n = f64::from(*min_tasks);
            b.line(
                "compute.fargate_vcpu",
                Service::Compute,
                "Fargate vCPU",
                "fargate.vcpu",
                Range::fixed(n * vcpu * h),
                false,
                format!("{min_tasks} task(s) x {vcpu} vCPU x {h} h"),
            );
            b.line(
                "compute.fargate_memory",
                Service::Compute,
                "Fargate memory",
                "fargate.memory",
                Range::fixed(n * memory_gb * h),
                false,
                format!("{min_tasks} task(s) x {memory_gb} GB x {h} h"),
            );
            let ipv4 = Range::from(a.ecs.public_ipv4_per_task).scale(n * h);
            b.line(
                "network.task_ipv4",
                Service::Network,
                "Public IPv4 addresses (tasks)",
                "vpc.public_ipv4",
                ipv4,
                true,
                "0 in private subnets, 1 per task in public ones".into(),
            );
            alb_lines(
                b,
                a,
                Range::from(a.ecs.alb_share),
                "Express Mode's load balancer (this service's share, assumed)",
            );
        }
    }
}

fn alb_lines(b: &mut Builder<'_>, a: &Assumptions, share: Range, what: &str) {
    let h = b.hours;
    b.line(
        "lb.alb",
        Service::LoadBalancer,
        "Application Load Balancer",
        "elb.alb",
        share.scale(h),
        share.low != 1.0 || share.high != 1.0,
        format!("{what}, {h} h"),
    );
    let lcu = Range::from(a.alb.lcu_per_hour);
    b.line(
        "lb.lcu",
        Service::LoadBalancer,
        "ALB capacity units (LCU)",
        "elb.alb_lcu",
        lcu.times(share).scale(h),
        true,
        format!("assumed {} LCU on average each hour", count(lcu)),
    );
    let ips = Range::from(a.alb.public_ipv4);
    b.line(
        "network.alb_ipv4",
        Service::Network,
        "Public IPv4 addresses (load balancer)",
        "vpc.public_ipv4",
        ips.times(share).scale(h),
        true,
        format!("{} addresses: one per Availability Zone", count(ips)),
    );
}

fn database_lines(b: &mut Builder<'_>, db: &DatabaseShape, a: &Assumptions) {
    let h = b.hours;
    let copies = if db.multi_az { 2.0 } else { 1.0 };
    let az = if db.multi_az {
        "Multi-AZ: primary and standby, each billed"
    } else {
        "Single-AZ"
    };
    b.line(
        "database.instance",
        Service::Database,
        &format!("RDS PostgreSQL {}", db.instance_class),
        &format!("rds.{}", db.instance_class),
        Range::fixed(copies * h),
        false,
        format!("{az}, {h} h"),
    );
    let allocated = f64::from(db.allocated_gb);
    let mut note = format!("{} GB allocated ({az})", db.allocated_gb);
    if let Some(max) = db.max_allocated_gb {
        note.push_str(&format!("; autoscaling may grow it to {max} GB"));
    }
    b.line(
        "database.storage",
        Service::Database,
        &format!("RDS {} storage", db.storage_type.as_str()),
        &format!("rds.storage.{}", db.storage_type.as_str()),
        Range::fixed(copies * allocated),
        false,
        note,
    );
    let per_day = Range::from(a.rds.backup_extra_per_retention_day);
    let q = per_day.scale(allocated * f64::from(db.backup_retention_days));
    b.line(
        "database.backup",
        Service::Database,
        "RDS backup storage beyond the free allowance",
        "rds.backup",
        q,
        true,
        format!(
            "backups up to {} GB are free; {}-day retention, assumed {} beyond",
            db.allocated_gb,
            db.backup_retention_days,
            gb(q)
        ),
    );
}

pub(crate) struct Builder<'a> {
    pub(crate) prices: &'a PriceTable,
    pub(crate) region: &'a str,
    pub(crate) hours: f64,
    pub(crate) lines: Vec<LineItem>,
    pub(crate) gaps: Vec<Gap>,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn line(
        &mut self,
        id: &str,
        service: Service,
        what: &str,
        key: &str,
        quantity: Range,
        assumption: bool,
        note: String,
    ) {
        let unit = self
            .prices
            .unit(key)
            .map(|u| u.unit.clone())
            .unwrap_or_default();
        let quantity = quantity.rounded();
        let (unit_price, monthly) = match self.prices.lookup(self.region, key) {
            Some(Lookup::Price(p)) => (Some(p), Some(quantity.scale(p).rounded())),
            Some(Lookup::Missing(why)) => {
                self.gap(what, key, why);
                (None, None)
            }
            None => {
                self.gap(what, key, "the price table has no such unit");
                (None, None)
            }
        };
        self.lines.push(LineItem {
            id: id.to_owned(),
            service,
            what: what.to_owned(),
            quantity,
            unit,
            price_key: key.to_owned(),
            unit_price,
            monthly,
            assumption,
            note,
        });
    }

    fn gap(&mut self, what: &str, key: &str, reason: &str) {
        self.gaps.push(Gap {
            what: what.to_owned(),
            price_key: key.to_owned(),
            region: self.region.to_owned(),
            reason: reason.to_owned(),
        });
    }
}

fn gb(r: Range) -> String {
    format!("{} GB", count(r))
}

/// `8` or `1-20`, without trailing zeros.
pub(crate) fn count(r: Range) -> String {
    let f = |v: f64| {
        let s = format!("{v:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
        let mut grouped = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        match frac {
            Some(f) => format!("{grouped}.{f}"),
            None => grouped,
        }
    };
    if r.is_fixed() {
        f(r.low)
    } else {
        format!("{}-{}", f(r.min()), f(r.max()))
    }
}
