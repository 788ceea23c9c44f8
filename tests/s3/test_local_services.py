"""What the local SageMaker calls directly, through the ObjectStore interface: S3Prefix
downloads, uploads, URI parsing. The backend here shares the running gateway's store, so both
sides see the same objects."""

from __future__ import annotations

import pytest

from sagepipe.errors import AWSError
from sagepipe.s3.models import S3Backend
from sagepipe.s3.object_store import ObjectStore, parse_s3_uri
from sagepipe.store import Store


@pytest.fixture
def backend(local_aws) -> ObjectStore:
    return S3Backend(Store(local_aws.db_path), local_aws).files


def test_parse_s3_uri():
    assert parse_s3_uri("s3://bucket/a/b.csv") == ("bucket", "a/b.csv")
    assert parse_s3_uri("s3://bucket") == ("bucket", "")
    assert parse_s3_uri("s3://bucket/p/") == ("bucket", "p/")
    for bad in ("https://bucket/key", "bucket/key", "s3://", "s3:///key"):
        with pytest.raises(AWSError, match="not an S3 URI"):
            parse_s3_uri(bad)


def test_download_prefix(s3, bucket, backend, tmp_path):
    for key in ("data/train/a.csv", "data/train/nested/b.csv", "data/train.csv",
                "data/trainer/c.csv", "data/train/folder/", "data/other.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    written = backend.download(f"s3://{bucket}/data/train/", tmp_path / "slash")
    assert sorted(p.relative_to(tmp_path / "slash").as_posix() for p in written) == [
        "a.csv", "nested/b.csv"]
    assert (tmp_path / "slash" / "nested" / "b.csv").read_bytes() == b"data/train/nested/b.csv"
    # without the slash, S3Prefix also takes the siblings that merely start with the prefix
    written = backend.download(f"s3://{bucket}/data/train", tmp_path / "bare")
    assert sorted(p.relative_to(tmp_path / "bare").as_posix() for p in written) == [
        "a.csv", "nested/b.csv", "train.csv", "trainer/c.csv"]


def test_download_exact_key_and_errors(s3, bucket, backend, tmp_path):
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=b"archive")
    [path] = backend.download(f"s3://{bucket}/model/model.tar.gz", tmp_path)
    assert path == tmp_path / "model.tar.gz" and path.read_bytes() == b"archive"
    with pytest.raises(AWSError) as missing:
        backend.download(f"s3://{bucket}/absent/", tmp_path)
    assert missing.value.code == "NoSuchKey" and "absent/" in missing.value.message
    with pytest.raises(AWSError) as no_bucket:
        backend.download("s3://no-such-bucket-anywhere/x", tmp_path)
    assert no_bucket.value.code == "NoSuchBucket"


def test_download_refuses_keys_that_escape(s3, bucket, backend, tmp_path):
    s3.put_object(Bucket=bucket, Key="in/../../escape.txt", Body=b"x")
    with pytest.raises(AWSError, match=r"'\.\.' segment"):
        backend.download(f"s3://{bucket}/in/", tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_upload_and_upload_tree(s3, bucket, backend, tmp_path):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"weights")
    backend.upload(model, f"s3://{bucket}/out/job/model.tar.gz")
    assert s3.get_object(Bucket=bucket, Key="out/job/model.tar.gz")["Body"].read() == b"weights"
    assert backend.exists(f"s3://{bucket}/out/job/model.tar.gz")
    assert not backend.exists(f"s3://{bucket}/out/job")
    with pytest.raises(AWSError, match="names a prefix"):
        backend.upload(model, f"s3://{bucket}/out/")
    with pytest.raises(AWSError) as no_bucket:
        backend.upload(model, "s3://no-such-bucket-anywhere/x")
    assert no_bucket.value.code == "NoSuchBucket"

    tree = tmp_path / "output"
    (tree / "sub").mkdir(parents=True)
    (tree / "metrics.json").write_text("{}")
    (tree / "sub" / "part-0.csv").write_text("1\n")
    assert backend.upload_tree(tree, f"s3://{bucket}/processed") == 2
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="processed")[
        "Contents"])
    assert keys == ["processed/metrics.json", "processed/sub/part-0.csv"]

    target = backend.download_object(f"s3://{bucket}/processed/sub/part-0.csv",
                                     tmp_path / "x" / "copy.csv")
    assert target.read_text() == "1\n"
