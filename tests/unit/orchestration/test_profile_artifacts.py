"""Profile artifacts carry no value from the files, even when Spark's error quotes one.

Prefect's OSS UI has no users: an artifact is read by whoever reaches it. A profile that
failed on a malformed row used to publish Spark's message with the row in it (a masked
email included) in the table and markdown artifacts.
"""

from __future__ import annotations

from lakeward.orchestration._artifacts import profile_markdown, profile_table, withhold_values

EMAIL = "jane.q.public@example.com"
SPARK_ERROR = (
    "Dataset sales.customers: Spark could not read it in customers.csv: "
    "[FAILED_READ_FILE.NO_HINT] Encountered error while reading file "
    "file:///lake/sales/customers.csv. (cause: [MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] "
    f"Malformed records are detected in record parsing: [4711,Dr. Jane (Q.) Public,{EMAIL},null].)"
    ". A row does not match the columns or types inferred from the files' heads. Fix the file "
    "or remove it from the dataset."
)


def _outcome(error: str) -> dict[str, object]:
    return {
        "name": "sales.customers",
        "status": "failed",
        "version": None,
        "rows": None,
        "bytes": None,
        "columns": None,
        "seconds": 1.5,
        "error": error,
    }


def test_profile_artifacts_withhold_quoted_file_data() -> None:
    (row,) = profile_table([_outcome(SPARK_ERROR)])
    assert EMAIL not in row["error"] and "Public" not in row["error"]
    assert "MALFORMED_RECORD_IN_PARSING" in row["error"] and "Fix the file" in row["error"]
    markdown = profile_markdown(
        {
            "lake_root": "file:///lake",
            "principal": "lakeward-scheduler",
            "purpose": "catalog_maintenance",
            "seconds": 2.0,
            "profiled": 0,
            "unchanged": 0,
            "failed": 1,
            "denied": 0,
            "rows": 0,
            "bytes": 0,
            "errors": {"sales.customers": SPARK_ERROR},
            "denials": {},
        }
    )
    assert EMAIL not in markdown and "sales.customers" in markdown


def test_other_value_bearing_spark_causes() -> None:
    cast = "[CAST_INVALID_INPUT] The value 'jane@x.org' of the type \"STRING\" cannot be cast"
    parse = "Cannot parse the value 1961-13-01 of the field date_of_birth as target spark data"
    text = "Text '1961-13-01' could not be parsed at index 5"
    for message, secret in ((cast, "jane@x.org"), (parse, "1961-13-01"), (text, "1961-13-01")):
        assert secret not in withhold_values(message)
    assert withhold_values("hr/employees.csv: Expected 2 columns, got 3") == (
        "hr/employees.csv: Expected 2 columns, got 3"
    )
