//! Elastic Beanstalk deploys: plan, application versions, environments, waits, rollback.
