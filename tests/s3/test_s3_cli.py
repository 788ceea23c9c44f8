"""The AWS CLI, unchanged but for --endpoint-url: s3 cp / ls / rm / mb / rb."""

from __future__ import annotations

import os
import uuid


def test_cp_ls_rm_round_trip(cli, s3, bucket, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub dir").mkdir(parents=True)
    (tree / "a.csv").write_text("x,y\n1,2\n")
    (tree / "sub dir" / "b+c é.txt").write_text("odd name")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * 1024 * 1024))  # above the CLI's 8 MiB multipart threshold

    cli("s3", "cp", "--recursive", "--only-show-errors", str(tree), f"s3://{bucket}/tree/")
    cli("s3", "cp", "--only-show-errors", str(big), f"s3://{bucket}/big.bin")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["big.bin", "tree/a.csv", "tree/sub dir/b+c é.txt"]
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-2"')

    top = cli("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE tree/" in top and "big.bin" in top
    recursive = cli("s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout
    assert "tree/sub dir/b+c é.txt" in recursive and "tree/a.csv" in recursive

    back = tmp_path / "back"
    cli("s3", "cp", "--recursive", "--only-show-errors", f"s3://{bucket}/tree/", str(back))
    assert (back / "sub dir" / "b+c é.txt").read_text() == "odd name"
    cli("s3", "cp", "--only-show-errors", f"s3://{bucket}/big.bin", str(tmp_path / "big.out"))
    assert (tmp_path / "big.out").read_bytes() == big.read_bytes()

    cli("s3", "rm", "--recursive", "--only-show-errors", f"s3://{bucket}/tree/")
    cli("s3", "rm", "--only-show-errors", f"s3://{bucket}/big.bin")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_mb_rb_and_errors(cli, s3):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    cli("s3", "mb", f"s3://{name}")
    assert name in cli("s3", "ls").stdout
    cli("s3", "rb", f"s3://{name}")
    missing = cli("s3", "ls", f"s3://{name}", check=False)
    assert missing.returncode != 0 and "NoSuchBucket" in missing.stderr
    invalid = cli("s3", "mb", "s3://Not_Valid", check=False)
    assert invalid.returncode != 0 and "InvalidBucketName" in invalid.stderr
