"""A local stand-in for the two AWS accounts this project connects.

Everything runs on 127.0.0.1: one moto server plays IAM, STS, EC2, S3 and Glue for both
accounts, and a small metadata service per stand-in host plays EC2's instance metadata, so the
playbooks and the AWS CLI can be exercised end to end without reaching AWS.
"""
