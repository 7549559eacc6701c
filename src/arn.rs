//! ARNs the poller reads and writes: QuickSight snapshot-job ARNs and the SNS topic ARN.

use crate::text::quote;

/// Partitions QuickSight and SNS exist in. A region name alone decides the partition.
const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

pub fn is_known_partition(partition: &str) -> bool {
    PARTITIONS.contains(&partition)
}

/// The partition a region belongs to (`cn-north-1` -> `aws-cn`, `us-gov-west-1` -> `aws-us-gov`).
pub fn partition_for_region(region: &str) -> &'static str {
    let prefixes = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
        ("eusc-", "aws-eusc"),
    ];
    prefixes
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// An AWS account id: exactly 12 digits.
pub fn is_account_id(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// A region name as AWS spells them: lowercase letters, digits and dashes, e.g. `ap-southeast-2`.
pub fn is_valid_region(region: &str) -> bool {
    (4..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.contains('-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// The parts of `arn:PARTITION:quicksight:REGION:ACCOUNT:dashboard/DASHBOARD/snapshot-job/JOB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotJobArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub dashboard: String,
    pub job: String,
}

impl SnapshotJobArn {
    /// Splits a snapshot-job ARN. Ids are returned raw; the caller validates them.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(format!(
                "Arn {} is not an ARN (expected arn:PARTITION:quicksight:REGION:ACCOUNT:dashboard/DASHBOARD_ID/snapshot-job/SNAPSHOT_JOB_ID)",
                quote(arn)
            ));
        };
        if !is_known_partition(partition) {
            return Err(format!("Arn has unknown partition {}", quote(partition)));
        }
        if service != "quicksight" {
            return Err(format!(
                "Arn is for service {}, not a QuickSight snapshot job",
                quote(service)
            ));
        }
        if !is_valid_region(region) {
            return Err(format!("Arn has invalid region {}", quote(region)));
        }
        if partition_for_region(region) != partition {
            return Err(format!(
                "Arn region {region:?} is not in partition {partition:?}"
            ));
        }
        let segments: Vec<&str> = resource.split('/').collect();
        let ["dashboard", dashboard, "snapshot-job", job] = segments.as_slice() else {
            return Err(format!(
                "Arn resource {} is not dashboard/DASHBOARD_ID/snapshot-job/SNAPSHOT_JOB_ID",
                quote(resource)
            ));
        };
        Ok(SnapshotJobArn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            dashboard: (*dashboard).to_owned(),
            job: (*job).to_owned(),
        })
    }

    pub fn format(
        partition: &str,
        region: &str,
        account: &str,
        dashboard: &str,
        job: &str,
    ) -> String {
        format!("arn:{partition}:quicksight:{region}:{account}:dashboard/{dashboard}/snapshot-job/{job}")
    }
}

/// A validated SNS topic ARN; its region decides where the SNS client publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsTopicArn {
    pub arn: String,
    pub partition: String,
    pub region: String,
    pub name: String,
}

impl SnsTopicArn {
    pub fn parse(arn: &str) -> Result<Self, String> {
        let parts: Vec<&str> = arn.split(':').collect();
        let ["arn", partition, "sns", region, account, name] = parts.as_slice() else {
            return Err(format!(
                "{} is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:TOPIC)",
                quote(arn)
            ));
        };
        let name_ok = (1..=256).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !is_known_partition(partition)
            || !is_valid_region(region)
            || partition_for_region(region) != *partition
            || !is_account_id(account)
            || !name_ok
        {
            return Err(format!("{} is not a valid SNS topic ARN", quote(arn)));
        }
        Ok(SnsTopicArn {
            arn: arn.to_owned(),
            partition: (*partition).to_owned(),
            region: (*region).to_owned(),
            name: (*name).to_owned(),
        })
    }

    /// FIFO topics need a MessageGroupId and deduplicate on MessageDeduplicationId.
    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

/// Whether `arn` is an ARN of `service` whose resource part holds `resource`.
pub(crate) fn is_arn_of(arn: &str, service: &str, resource: &str) -> bool {
    let mut parts = arn.splitn(3, ':');
    parts.next() == Some("arn")
        && parts.next().is_some_and(is_known_partition)
        && parts
            .next()
            .is_some_and(|rest| rest.starts_with(&format!("{service}:")) && rest.contains(resource))
        && arn.len() <= 2048
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_job_arn_parses_in_every_partition() {
        for (partition, region) in [
            ("aws", "us-east-1"),
            ("aws-cn", "cn-north-1"),
            ("aws-us-gov", "us-gov-west-1"),
        ] {
            let arn = SnapshotJobArn::format(partition, region, "123456789012", "dash-1", "job_1");
            let parsed = SnapshotJobArn::parse(&arn).expect("valid ARN");
            assert_eq!(parsed.partition, partition);
            assert_eq!(parsed.region, region);
            assert_eq!(parsed.account, "123456789012");
            assert_eq!(parsed.dashboard, "dash-1");
            assert_eq!(parsed.job, "job_1");
        }
    }

    #[test]
    fn arn_of_another_service_is_rejected_by_name() {
        let err = SnapshotJobArn::parse("arn:aws:sns:us-east-1:123456789012:topic").unwrap_err();
        assert!(err.contains("\"sns\""), "{err}");
    }

    #[test]
    fn arn_whose_region_is_in_another_partition_is_rejected() {
        let err = SnapshotJobArn::parse(
            "arn:aws-cn:quicksight:us-east-1:123456789012:dashboard/d/snapshot-job/j",
        )
        .unwrap_err();
        assert!(err.contains("partition"), "{err}");
    }

    #[test]
    fn arn_with_extra_path_segments_is_rejected() {
        let err = SnapshotJobArn::parse(
            "arn:aws:quicksight:us-east-1:123456789012:dashboard/d/../snapshot-job/j",
        )
        .unwrap_err();
        assert!(err.contains("resource"), "{err}");
    }

    #[test]
    fn topic_arn_knows_its_region_and_fifo_suffix() {
        let topic = SnsTopicArn::parse("arn:aws:sns:eu-west-1:123456789012:alerts.fifo").unwrap();
        assert_eq!(topic.region, "eu-west-1");
        assert!(topic.is_fifo());
        assert!(SnsTopicArn::parse("arn:aws:sqs:eu-west-1:123456789012:q").is_err());
    }

    #[test]
    fn topic_arn_partition_must_be_its_regions() {
        let gov = SnsTopicArn::parse("arn:aws-us-gov:sns:us-gov-west-1:123456789012:t").unwrap();
        assert_eq!(gov.partition, "aws-us-gov");
        assert!(SnsTopicArn::parse("arn:aws:sns:cn-north-1:123456789012:t").is_err());
        assert!(SnsTopicArn::parse("arn:aws-cn:sns:us-east-1:123456789012:t").is_err());
    }
}
