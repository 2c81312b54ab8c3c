//! The offline AWS: one loopback edge answering Elastic Beanstalk and App Runner, forwarding the rest to moto.
