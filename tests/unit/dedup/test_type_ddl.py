"""Profiled types (Spark ``simpleString``) back to DDL: nested field names quoted as needed."""

from __future__ import annotations

import pytest

from lakeward.dedup._schema import schema_ddl, type_ddl


@pytest.mark.parametrize(
    ("simple", "ddl"),
    [
        ("bigint", "bigint"),
        ("decimal(10,2)", "decimal(10,2)"),
        ("interval day to second", "interval day to second"),
        ("struct<city:string,zip:string>", "struct<city:string,zip:string>"),  # unchanged
        ("struct<street name:string>", "struct<`street name`:string>"),
        ("struct<no`te:bigint>", "struct<`no``te`:bigint>"),
        ("struct<a:b:int>", "struct<`a:b`:int>"),
        ("struct<a,b:int,c>d:decimal(5,2)>", "struct<`a,b`:int,`c>d`:decimal(5,2)>"),
        ("array<struct<a b:int>>", "array<struct<`a b`:int>>"),
        ("map<string,struct<x y:array<int>>>", "map<string,struct<`x y`:array<int>>>"),
        ("struct<a:int,b:struct<c d:string>>", "struct<a:int,b:struct<`c d`:string>>"),
        ("struct<ünï côdé:string>", "struct<`ünï côdé`:string>"),
        ("struct<>", "struct<>"),
        ("struct<a:int", "struct<a:int"),  # not a type: left for Spark to report
    ],
)
def test_type_ddl(simple: str, ddl: str) -> None:
    assert type_ddl(simple) == ddl


def test_schema_ddl_quotes_top_level_names_too() -> None:
    columns = [("id", "bigint"), ("home `address`", "struct<street name:string>")]
    assert schema_ddl(columns) == "`id` bigint, `home ``address``` struct<`street name`:string>"
