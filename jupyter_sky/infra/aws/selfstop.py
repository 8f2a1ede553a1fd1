"""Run ON an EC2 instance: stop (or terminate) this instance through the EC2 API.

The autostop watchdog calls it once the notebook is gone and the kernel has been idle, so
the bill stops even while the laptop sleeps.  Standard library only (the VM's venv has no
boto3): one SigV4-signed ``StopInstances``/``TerminateInstances`` POST.

Credentials: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` when set,
else the instance's own role from the instance metadata service (IMDSv2).  Endpoint:
``AWS_ENDPOINT_URL_EC2`` or ``AWS_ENDPOINT_URL`` when set (as boto3), else the region's.

    python -m jupyter_sky.infra.aws.selfstop --instance-id i-0abc --region us-east-1 [--terminate]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
import urllib.parse
import urllib.request

IMDS = "http://169.254.169.254/latest"
VERSION = "2016-11-15"
TAG_STOPPED = "jupyter-sky-stopped"


def credentials() -> tuple[str, str, str]:
    """``(key id, secret, session token)`` from the environment, else from the instance role."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret, os.environ.get("AWS_SESSION_TOKEN", "")
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        raise RuntimeError("no AWS credentials in the environment and instance metadata is disabled")
    put = urllib.request.Request(f"{IMDS}/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})  # fmt: skip
    token = urllib.request.urlopen(put, timeout=2).read().decode()
    head = {"X-aws-ec2-metadata-token": token}

    def get(path: str) -> str:
        req = urllib.request.Request(f"{IMDS}/meta-data/{path}", headers=head)
        return str(urllib.request.urlopen(req, timeout=2).read().decode())

    role = get("iam/security-credentials/").split()[0]
    doc = json.loads(get(f"iam/security-credentials/{role}"))
    return doc["AccessKeyId"], doc["SecretAccessKey"], doc.get("Token", "")


def endpoint(region: str) -> str:
    return (os.environ.get("AWS_ENDPOINT_URL_EC2") or os.environ.get("AWS_ENDPOINT_URL")
            or f"https://ec2.{region}.amazonaws.com")  # fmt: skip


def signed_request(url: str, region: str, body: str, creds: tuple[str, str, str],
                   now: dt.datetime) -> urllib.request.Request:  # fmt: skip
    """A SigV4-signed EC2 query-API POST of ``body`` to ``url``."""
    key, secret, token = creds
    host = urllib.parse.urlsplit(url).netloc
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8", "host": host,
               "x-amz-date": amz_date}  # fmt: skip
    if token:
        headers["x-amz-security-token"] = token
    names = ";".join(sorted(headers))
    canonical = "\n".join(["POST", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", names,
                           hashlib.sha256(body.encode()).hexdigest()])  # fmt: skip
    scope = f"{day}/{region}/ec2/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signing = f"AWS4{secret}".encode()
    for part in (day, region, "ec2", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, "
                                f"Signature={signature}")  # fmt: skip
    return urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)


def call(region: str, params: dict[str, str], creds: tuple[str, str, str]) -> str:
    """One EC2 query-API call; return EC2's answer (raises on an HTTP error)."""
    body = urllib.parse.urlencode({**params, "Version": VERSION})
    req = signed_request(endpoint(region), region, body, creds, dt.datetime.now(dt.timezone.utc))
    return str(urllib.request.urlopen(req, timeout=30).read().decode())


def stop_self(instance_id: str, region: str, terminate: bool = False, reason: str = "") -> str:
    """Tag the instance with ``reason`` (when given), then stop or terminate it."""
    creds = credentials()
    if reason:  # read back by the notebook's status: why the VM stopped itself
        call(region, {"Action": "CreateTags", "ResourceId.1": instance_id, "Tag.1.Key": TAG_STOPPED,
                      "Tag.1.Value": reason[:250]}, creds)  # fmt: skip
    action = "TerminateInstances" if terminate else "StopInstances"
    return call(region, {"Action": action, "InstanceId.1": instance_id}, creds)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instance-id", required=True)
    ap.add_argument("--region", required=True)
    ap.add_argument("--terminate", action="store_true")
    ap.add_argument("--reason", default="", help="why (tagged jupyter-sky-stopped on the instance)")
    args = ap.parse_args(argv)
    stop_self(args.instance_id, args.region, args.terminate, args.reason)
    print(f"{'terminate' if args.terminate else 'stop'} of {args.instance_id} requested")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
