//! Deterministic, parallel Elastic Beanstalk source bundles with secret and line-ending checks.
