"""AWS EC2 (boto3, imported lazily inside functions; extra ``aws``).

This package holds the parts of the AWS infra that do not depend on the infra seam of
issue #10 yet: error classification (:mod:`.errors`), credentials looked up locally
(:mod:`.credentials`), the per-user key and cloud-init user data (:mod:`.identity`) and the
EC2 calls that create, find and delete what a cluster owns (:mod:`.provision`).  The
``AwsInfra`` class that plugs these into the seam's registry and failover comes with the seam.
"""
