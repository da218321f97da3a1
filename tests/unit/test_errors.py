import pytest

from lakeward import errors


@pytest.mark.parametrize(
    ("cls", "builtin", "code"),
    [
        (errors.InputError, ValueError, 2),
        (errors.ConfigurationError, ValueError, 2),
        (errors.DatasetMalformed, ValueError, 2),
        (errors.SchemaConflict, ValueError, 2),
        (errors.NotFound, LookupError, 2),
        (errors.CatalogUnavailable, ConnectionError, 2),
        (errors.SparkUnavailable, ConnectionError, 2),
        (errors.PolicyDenied, PermissionError, 1),
        (errors.BudgetExhausted, PermissionError, 1),
        (errors.LakewardInternalError, AssertionError, 1),
    ],
)
def test_hierarchy_mixes_in_builtins_and_exit_codes(cls: type, builtin: type, code: int) -> None:
    assert issubclass(cls, errors.LakewardError)
    assert issubclass(cls, builtin)
    assert cls.exit_code == code


def test_every_public_error_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        assert name in doc, f"{name} missing from the hierarchy drawing"


def test_internal_error_says_it_is_a_bug() -> None:
    assert "bug" in str(errors.LakewardInternalError("invariant x broke"))


def test_lake_errors_carry_dataset_and_path() -> None:
    exc = errors.DatasetMalformed("bad", dataset="sales.orders", path="part-1.parquet")
    assert (exc.dataset, exc.path) == ("sales.orders", "part-1.parquet")
