"""TransferSpec -> STS TransferJob translation, engine choice, pricing and the delete guards (no network)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.errors import BadInputError, EnvironmentProblem
from engine.secrets import find_secrets
from engine.transfer.spec import TransferSpec
from engine.transfer.sts import (
    TIB,
    DeletePlan,
    StsDeleteRefused,
    StsOptions,
    StsSchedule,
    StsThresholds,
    agent_install_command,
    bwlimit_to_mbps,
    check_delete_guards,
    choose_engine,
    job_name_for,
    make_client,
    plan_sts_job,
    sts_cost_usd,
    sts_mode,
    sts_price,
)
from engine.transfer.sts_translate import PrefixRefused

ROLE = "arn:aws:iam::123456789012:role/gpumigrate-sts"
SECRET = "projects/123456789/secrets/aws-transfer-key"
PROJECT = "test-project"


def s3_spec(**kw) -> TransferSpec:
    return TransferSpec(src="s3://src-bucket/data", dst="gs://dst-bucket/landing/", **kw)


def opts(**kw) -> StsOptions:
    return StsOptions(aws_role_arn=ROLE, **kw)


# ----------------------------------------------------------------- S3 -> GCS


def test_s3_to_gcs_job_has_the_local_engine_semantics() -> None:
    plan = plan_sts_job(s3_spec(exclude=["^tmp/", "^logs/.*"]), PROJECT, opts())
    job = plan.job_dict()
    spec = job["transferSpec"]
    assert job["name"] == job_name_for(s3_spec()) and job["name"].startswith("transferJobs/gpumigrate-")
    assert job["projectId"] == PROJECT and job["status"] == "ENABLED"
    assert spec["awsS3DataSource"] == {"bucketName": "src-bucket", "path": "data/", "roleArn": ROLE}
    assert spec["gcsDataSink"] == {"bucketName": "dst-bucket", "path": "landing/"}
    assert spec["objectConditions"] == {"excludePrefixes": ["logs/", "tmp/"]}
    assert spec["transferOptions"]["overwriteWhen"] == "DIFFERENT"
    assert "deleteObjectsUniqueInSink" not in spec["transferOptions"]
    assert spec["transferOptions"]["metadataOptions"] == {"timeCreated": "TIME_CREATED_PRESERVE_AS_CUSTOM_TIME"}
    assert job["loggingConfig"]["logActionStates"] == ["FAILED"]
    assert set(job["loggingConfig"]["logActions"]) == {"FIND", "COPY", "DELETE"}
    assert "schedule" not in job
    assert plan.mode == "agentless" and plan.source_root_url == "s3://src-bucket/data/"


def test_secret_manager_credentials_and_no_key_anywhere() -> None:
    plan = plan_sts_job(s3_spec(), PROJECT, StsOptions(aws_credentials_secret_resource=SECRET))
    aws = plan.job_dict()["transferSpec"]["awsS3DataSource"]
    assert aws["credentialsSecret"] == SECRET and "awsAccessKey" not in aws and "roleArn" not in aws
    # the options name where the credential lives; the secret scanner agrees nothing is held
    assert find_secrets({"sts": StsOptions(aws_credentials_secret_resource=SECRET).model_dump()}) == []


def test_no_aws_credential_source_is_an_environment_problem_naming_the_settings() -> None:
    with pytest.raises(EnvironmentProblem) as info:
        plan_sts_job(s3_spec(), PROJECT, StsOptions())
    assert "sts.aws_role_arn" in str(info.value) and "sts.aws_credentials_secret_resource" in str(info.value)


@pytest.mark.parametrize(
    "bad",
    [
        "arn:aws:iam::12345:role/x",  # account id too short
        "arn:aws:iam::123456789012:user/x",  # a user, not a role
        "arn:aws:iam::123456789012:role/x; rm -rf /",
        "AKIAABCDEFGHIJKLMNOP",
    ],
)
def test_role_arn_is_pattern_validated(bad: str) -> None:
    with pytest.raises(ValidationError):
        StsOptions(aws_role_arn=bad)


def test_an_access_key_cannot_be_smuggled_in_as_the_secret_resource() -> None:
    with pytest.raises(ValidationError):
        StsOptions(aws_credentials_secret_resource="AKIAABCDEFGHIJKLMNOP")
    with pytest.raises(ValidationError):
        StsOptions(aws_key="x")  # type: ignore[call-arg]  # closed model


def test_both_credential_sources_is_refused() -> None:
    with pytest.raises(BadInputError, match="only one"):
        plan_sts_job(s3_spec(), PROJECT, StsOptions(aws_role_arn=ROLE, aws_credentials_secret_resource=SECRET))


def test_include_and_exclude_are_translated_together() -> None:
    plan = plan_sts_job(s3_spec(exclude=["^raw/tmp/"]), PROJECT, opts(include=["^(raw|clean)/"]))
    cond = plan.job_dict()["transferSpec"]["objectConditions"]
    assert cond == {"includePrefixes": ["clean/", "raw/"], "excludePrefixes": ["raw/tmp/"]}


def test_an_untranslatable_exclude_is_refused_before_anything_runs() -> None:
    with pytest.raises(PrefixRefused, match="file suffix"):
        plan_sts_job(s3_spec(exclude=[r".*\.tmp$"]), PROJECT, opts())


@pytest.mark.parametrize(
    ("overwrite", "wire"), [("different", "DIFFERENT"), ("always", "ALWAYS"), ("never", "NEVER")]
)
def test_overwrite_policy(overwrite: str, wire: str) -> None:
    plan = plan_sts_job(s3_spec(), PROJECT, opts(overwrite_when=overwrite))
    assert plan.job_dict()["transferSpec"]["transferOptions"]["overwriteWhen"] == wire


def test_delete_sets_delete_unique_in_sink_and_can_be_overridden() -> None:
    assert plan_sts_job(s3_spec(delete=True), PROJECT, opts()).job_dict()["transferSpec"]["transferOptions"][
        "deleteObjectsUniqueInSink"
    ]
    first = plan_sts_job(s3_spec(delete=True), PROJECT, opts(), delete=False)
    assert "deleteObjectsUniqueInSink" not in first.job_dict()["transferSpec"]["transferOptions"]


def test_checksum_notes_and_agentless_bwlimit_note() -> None:
    plan = plan_sts_job(s3_spec(bwlimit="50M"), PROJECT, opts())
    assert any("not applied" in n for n in plan.notes)
    assert any("checksum" in n for n in plan.notes)
    assert not any("checksum" in n for n in plan_sts_job(s3_spec(checksum=True), PROJECT, opts()).notes)


def test_managed_private_network_mode() -> None:
    plan = plan_sts_job(s3_spec(), PROJECT, opts(managed_private_network=True))
    assert plan.job_dict()["transferSpec"]["awsS3DataSource"]["managedPrivateNetwork"] is True
    assert plan.mode == "managed_private_network"


def test_schedule_for_incremental_reruns() -> None:
    sched = StsSchedule(start_date="2026-03-01", end_date="2026-03-07", start_time_utc="02:30", repeat_every_hours=6)
    job = plan_sts_job(s3_spec(), PROJECT, opts(schedule=sched)).job_dict()
    assert job["schedule"] == {
        "scheduleStartDate": {"year": 2026, "month": 3, "day": 1},
        "scheduleEndDate": {"year": 2026, "month": 3, "day": 7},
        "startTimeOfDay": {"hours": 2, "minutes": 30},
        "repeatInterval": "21600s",
    }
    with pytest.raises(ValidationError):
        StsSchedule(start_date="2026-03-01", repeat_every_hours=0.5)  # STS minimum is one hour
    with pytest.raises(BadInputError, match="before start_date"):
        plan_sts_job(s3_spec(), PROJECT, opts(schedule=StsSchedule(start_date="2026-03-02", end_date="2026-03-01")))


def test_gcs_source_and_bad_destinations() -> None:
    job = plan_sts_job(TransferSpec(src="gs://a/x/", dst="gs://b"), PROJECT, StsOptions()).job_dict()
    assert job["transferSpec"]["gcsDataSource"] == {"bucketName": "a", "path": "x/"}
    with pytest.raises(BadInputError, match="Cloud Storage only"):
        plan_sts_job(TransferSpec(src="s3://a", dst="s3://b"), PROJECT, opts())
    with pytest.raises(BadInputError, match="project"):
        plan_sts_job(s3_spec(), "", opts())


# ----------------------------------------------------------------- POSIX -> GCS


def test_posix_source_uses_an_agent_pool_and_shows_the_install_command(tmp_path: Path) -> None:
    spec = TransferSpec(src=str(tmp_path), dst="gs://dst/", bwlimit="100M")
    plan = plan_sts_job(spec, PROJECT, StsOptions(agent_pool="onprem-pool", agent_count=4))
    job = plan.job_dict()
    assert job["name"].startswith("transferJobs/OPIgpumigrate-")  # STS's rule for file-system jobs
    assert job["transferSpec"]["posixDataSource"] == {"rootDirectory": f"{tmp_path}/"}
    assert job["transferSpec"]["sourceAgentPoolName"] == f"projects/{PROJECT}/agentPools/onprem-pool"
    assert job["loggingConfig"] == {"enableOnpremGcsTransferLogs": True}
    assert plan.agent_command == (
        f"gcloud transfer agents install --project={PROJECT} --pool=onprem-pool --count=4 "
        f"--mount-directories={tmp_path}/"
    )
    assert plan.bandwidth_mbps == 104  # 100 MiB/s = 104.86 MB/s (limitMbps is megabytes/s), rounded down
    assert plan.mode == "agent"


def test_posix_needs_a_pool_and_cannot_filter(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="sts.agent_pool"):
        plan_sts_job(TransferSpec(src=str(tmp_path), dst="gs://d/"), PROJECT, StsOptions())
    with pytest.raises(PrefixRefused, match="file system"):
        plan_sts_job(TransferSpec(src=str(tmp_path), dst="gs://d/", exclude=["^tmp/"]), PROJECT,
                     StsOptions(agent_pool="p1"))
    with pytest.raises(ValidationError):
        StsOptions(agent_pool="Bad Pool; rm")


@pytest.mark.parametrize(("limit", "mbps"), [("1M", 1), ("50M", 52), ("125000", 1), ("1000", 1), ("1G", 1073),
                                             ("2.5k", 1), ("20000000", 20)])
def test_bwlimit_to_agent_pool_mbps(limit: str, mbps: int) -> None:
    assert bwlimit_to_mbps(limit) == mbps


def test_agent_install_command_shape() -> None:
    assert agent_install_command("p-123456", "pool", "/mnt/data/", 2) == (
        "gcloud transfer agents install --project=p-123456 --pool=pool --count=2 --mount-directories=/mnt/data/"
    )


# ----------------------------------------------------------------- engine choice


@pytest.mark.parametrize(
    ("nbytes", "objects", "engine", "why"),
    [
        (TIB, 10, "sts", "1.0 TiB planned >= 1.0 TiB"),
        (TIB - 1, 9_999_999, "local", "under the STS thresholds"),
        (10, 10_000_000, "sts", "10,000,000 objects planned >= 10,000,000"),
        (2 * TIB, 20_000_000, "sts", "and"),
        (None, None, "local", "not known"),
    ],
)
def test_auto_choice_by_thresholds(nbytes, objects, engine, why) -> None:
    choice, reason = choose_engine(nbytes, objects, s3_spec(engine="auto"), StsThresholds())
    assert choice == engine and why in reason


def test_auto_thresholds_are_configurable_and_explicit_engines_win() -> None:
    small = StsThresholds(bytes=100, objects=5)
    assert choose_engine(100, 1, s3_spec(engine="auto"), small)[0] == "sts"
    assert choose_engine(10 * TIB, 10**9, s3_spec(engine="local"), small) == ("local", 'the entry says engine = "local"')
    assert choose_engine(1, 1, s3_spec(engine="sts"), small)[0] == "sts"


def test_auto_falls_back_to_local_when_sts_cannot_express_the_entry(tmp_path: Path) -> None:
    choice, reason = choose_engine(2 * TIB, 1, s3_spec(engine="auto", exclude=[r"\.tmp$"]), StsThresholds())
    assert choice == "local" and "STS cannot run it" in reason and "not anchored" in reason
    choice, reason = choose_engine(2 * TIB, 1, TransferSpec(src="s3://a", dst=str(tmp_path), engine="auto"), None)
    assert choice == "local" and "Cloud Storage only" in reason
    choice, reason = choose_engine(2 * TIB, 1, TransferSpec(src=str(tmp_path), dst="gs://b", engine="auto"), None)
    assert choice == "local" and "agent pool" in reason


# ----------------------------------------------------------------- pricing


def test_sts_prices_come_from_the_shipped_table_with_sources() -> None:
    gib = 1024**3
    assert sts_cost_usd(1000 * gib, "agentless") == 0
    assert sts_cost_usd(1000 * gib, "managed_private_network", "NA") == pytest.approx(30.0)
    assert sts_cost_usd(1000 * gib, "managed_private_network", "EU") == pytest.approx(40.0)
    assert sts_cost_usd(1000 * gib, "managed_private_network", "APAC") == pytest.approx(80.0)
    assert sts_cost_usd(1000 * gib, "agent") == pytest.approx(12.5)
    assert "storage-transfer/pricing" in sts_price("agent").source
    rows = list(csv.DictReader((Path(__import__("engine.transfer.sts", fromlist=["x"]).__file__).with_name("sts_prices.csv")).open()))
    assert all(r["source"] and r["source_date"] and r["verified"] for r in rows)
    with pytest.raises(BadInputError):
        sts_price("teleport")  # type: ignore[arg-type]


def test_mode_follows_the_source(tmp_path: Path) -> None:
    assert sts_mode(s3_spec(), opts()) == "agentless"
    assert sts_mode(TransferSpec(src=str(tmp_path), dst="gs://b"), StsOptions(agent_pool="p")) == "agent"


# ----------------------------------------------------------------- delete guards


def test_guards_refuse_an_empty_source() -> None:
    with pytest.raises(StsDeleteRefused, match="lists empty"):
        check_delete_guards(s3_spec(delete=True), DeletePlan(source_objects=0, sink_objects=50, deletions=50))
    check_delete_guards(s3_spec(delete=True, allow_empty_source=True, max_delete=100), DeletePlan(0, 50, 50))


def test_guards_refuse_deletions_past_max_delete_unless_confirmed() -> None:
    # default max_delete: 10% of the destination or 1,000, whichever is smaller
    check_delete_guards(s3_spec(delete=True), DeletePlan(source_objects=900, sink_objects=1000, deletions=100))
    with pytest.raises(StsDeleteRefused, match="101 deletions planned, more than max_delete = 100"):
        check_delete_guards(s3_spec(delete=True), DeletePlan(900, 1000, 101))
    with pytest.raises(StsDeleteRefused, match="max_delete = 1,000"):
        check_delete_guards(s3_spec(delete=True), DeletePlan(10**6, 10**6, 1001))
    check_delete_guards(s3_spec(delete=True), DeletePlan(900, 1000, 101), confirmed=True)
    check_delete_guards(s3_spec(delete=True, max_delete=500), DeletePlan(900, 1000, 500))


def test_guards_need_a_plan_or_a_confirmation() -> None:
    with pytest.raises(StsDeleteRefused, match="--dry-run"):
        check_delete_guards(s3_spec(delete=True), None)
    check_delete_guards(s3_spec(delete=True), None, confirmed=True)
    check_delete_guards(s3_spec(delete=False), None)


# ----------------------------------------------------------------- credentials


def test_no_google_credentials_is_an_environment_problem() -> None:
    # conftest clears GOOGLE_* and points CLOUDSDK_CONFIG at an empty place: no ADC exists
    with pytest.raises(EnvironmentProblem, match="GOOGLE_APPLICATION_CREDENTIALS"):
        make_client()


def test_sts_options_load_from_a_profile_table() -> None:
    import tomllib

    text = """
    aws_role_arn = "arn:aws:iam::123456789012:role/gpumigrate-sts"
    include = ["^datasets/"]
    poll_interval_s = 30
    [thresholds]
    bytes = 5_000_000_000_000
    [schedule]
    start_date = "2026-03-01"
    repeat_every_hours = 6
    """
    options = StsOptions.model_validate(tomllib.loads(text))
    assert options.thresholds.objects == 10_000_000 and options.schedule is not None
    assert options.schedule.repeat_every_hours == 6
    with pytest.raises(ValidationError):
        StsOptions.model_validate(tomllib.loads('aws_secret_access_key = "x"'))


def test_agent_install_command_quotes_what_a_shell_would_split() -> None:
    import shlex

    command = agent_install_command("p-123456", "pool", "/mnt/my data/; rm -rf ~/", 2)
    assert shlex.split(command)[-1] == "--mount-directories=/mnt/my data/; rm -rf ~/"
