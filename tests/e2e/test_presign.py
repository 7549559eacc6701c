"""Download links checked by an independent SigV4 implementation: botocore's S3 presigner, with
the same credentials and the same signing time, must produce the same link as the poller's
signer (`examples/presign.rs` prints it). Same link, same signature: S3 accepts one as the other."""

from __future__ import annotations

import datetime
import subprocess
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.config import Config

from harness.env import CARGO_TARGET_DIR

from conftest import require_binaries

PRESIGN_BIN = CARGO_TARGET_DIR / "debug" / "examples" / "presign"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "ASIAEXAMPLEKEY",
               "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
               "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEB/session+token=="}
SIGNED_AT = datetime.datetime(2027, 1, 15, 8, 0, 0)  # 1,800,000,000 s after the epoch


def ours(uri: str, region: str, partition: str = "aws", expires: int = 3600) -> str:
    require_binaries(PRESIGN_BIN)
    done = subprocess.run([str(PRESIGN_BIN), uri, region, partition, "1800000000", str(expires)],
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **CREDENTIALS}, timeout=30, check=True)
    return done.stdout.strip()


def botocores(bucket: str, key: str, region: str, expires: int = 3600,
              style: str = "virtual") -> str:
    session = botocore.session.get_session()
    client = session.create_client(
        "s3", region_name=region, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
        config=Config(signature_version="s3v4", s3={"addressing_style": style}))
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        return client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)


def same_link(a: str, b: str):
    left, right = urlsplit(a), urlsplit(b)
    assert (left.scheme, left.netloc, left.path) == (right.scheme, right.netloc, right.path), (a, b)
    assert parse_qs(left.query) == parse_qs(right.query), (a, b)


@pytest.mark.parametrize("key", ["daily/report.pdf", "2026-11/sales report (EMEA)+final.csv",
                                 "unicodé/Übersicht.xlsx"])
def test_a_link_is_what_botocore_signs_for_the_same_object_and_time(key):
    same_link(ours(f"s3://qs-exports/{key}", "eu-west-1"),
              botocores("qs-exports", key, "eu-west-1"))


def test_a_dotted_bucket_is_signed_path_style_as_botocore_does():
    # (not us-east-1, where botocore uses the legacy global name s3.amazonaws.com)
    same_link(ours("s3://my.exports/a.pdf", "eu-central-1"),
              botocores("my.exports", "a.pdf", "eu-central-1", style="path"))


def test_the_expiry_is_signed_in():
    link = ours("s3://qs-exports/a.pdf", "eu-west-1", expires=600)
    assert parse_qs(urlsplit(link).query)["X-Amz-Expires"] == ["600"]
    same_link(link, botocores("qs-exports", "a.pdf", "eu-west-1", expires=600))
