"""Property-based test: whatever the existing file holds, only the managed profile changes.

Hypothesis builds config files botocore can read (odd header spellings, comments, nested settings, blank
lines, CRLF, no final newline), then the edit must keep every other section as botocore reads it, keep
every comment line, make the managed profile resolve as asked, and be a no-op the second time.
"""

from collections import Counter

import aws_cli_profile_config as mod
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from profile_support import ARN

MANAGED = "airflow-role"
NAME = st.text("abcdefgh0123456789-_.", min_size=1, max_size=8)
KEY = st.sampled_from(["region", "output", "cli_pager", "s3", "foo", "Bar", "role_arn", "external_id", "x"])
VALUE = st.text("abcxyz0123456789-_./:=", max_size=12).map(str.strip)
COMMENT = st.builds(
    lambda indent, prefix, body: f"{indent}{prefix}{body}",
    st.sampled_from(["", "  "]),
    st.sampled_from(["#", ";"]),
    st.text("abc [profile] =#;", max_size=12),
)
PROFILE_SPELLINGS = ["profile {}", "profile  {}", "profile\t{}", 'profile "{}"', "profile '{}'", "profile {} "]
OTHER_SPELLINGS = ["{}", "sso-session {}", "services {}", "plugins{}"]


@st.composite
def section_body(draw, keys):
    """Lines of one section: unique keys, some nested (s3 = + indented sub-keys), comments and blanks."""
    lines = []
    for key in keys:
        lines.extend(draw(st.lists(st.one_of(COMMENT, st.just("")), max_size=2)))
        delimiter = draw(st.sampled_from([" = ", "=", ": "]))
        if draw(st.booleans()) and key not in ("role_arn",):
            lines.append(f"{key}{delimiter}".rstrip())
            for sub in draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)):
                if draw(st.booleans()):
                    lines.append(draw(COMMENT))
                lines.append(f"{draw(st.sampled_from(['  ', '    ', chr(9)]))}{sub} = {draw(VALUE)}")
        else:
            lines.append(f"{key}{delimiter}{draw(VALUE)}".rstrip())
    lines.extend(draw(st.lists(st.one_of(COMMENT, st.just("")), max_size=2)))
    return lines


@st.composite
def config_file(draw):
    """Build a whole config file botocore can read, with or without the managed profile."""
    names = draw(st.lists(NAME, max_size=5, unique=True).map(lambda ns: [n for n in ns if n != MANAGED]))
    headers = []
    for name in names:
        spelling = draw(st.sampled_from(PROFILE_SPELLINGS + OTHER_SPELLINGS))
        headers.append(spelling.format(name))
    if draw(st.booleans()):
        headers.append(draw(st.sampled_from(["default", "profile default"])))
    if draw(st.booleans()):
        headers.append(MANAGED)  # the bare section, which is not the profile
    has_managed = draw(st.booleans())
    if has_managed:
        headers.append(draw(st.sampled_from(PROFILE_SPELLINGS)).format(MANAGED))
    if draw(st.booleans()):
        headers.append("DEFAULT")
    headers = draw(st.permutations(headers))
    lines = draw(st.lists(COMMENT, max_size=2))
    for header in headers:
        keys = draw(st.lists(KEY, max_size=4, unique_by=str.lower))
        if header.endswith((MANAGED, f"{MANAGED}'", f'{MANAGED}"')):
            if draw(st.booleans()):
                keys.append("source_profile")
        elif header == "DEFAULT":
            keys = [k for k in keys if k.lower() not in ("role_arn", "region", "external_id")]
        lines.append(f"[{header}]")
        lines.extend(draw(section_body(keys)))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines)
    if lines and draw(st.booleans()):
        text += newline
    return text


REQUEST = st.fixed_dictionaries(
    {"name": st.just(MANAGED), "role_arn": st.just(ARN)},
    optional={
        "credential_source": st.sampled_from(mod.CREDENTIAL_SOURCES),
        "region": st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"]),
        "output": st.sampled_from(mod.OUTPUTS),
        "duration_seconds": st.integers(900, 3600),
        "role_session_name": st.sampled_from(["airflow", "glue@worker-1"]),
        "external_id": st.sampled_from(["ext-1", "a:b/c=d"]),
    },
)


def comment_lines(text):
    return Counter(line for line, _ in mod.split_lines(text) if line.strip().startswith(("#", ";")))


def others(raw):
    return {h: v for h, v in raw.items() if mod.profile_name_of_header(h) != MANAGED}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=config_file(), request=REQUEST, absent=st.booleans())
def test_only_the_managed_profile_changes(text, request, absent):
    profiles = [{"name": MANAGED, "state": "absent"}] if absent else [request]
    before_raw, _ = mod.parse_text(text)

    new_text, _ = mod.render(text, profiles)

    after_raw, after = mod.parse_text(new_text)
    assert others(after_raw) == others(before_raw)
    assert not comment_lines(text) - comment_lines(new_text)
    if absent:
        assert MANAGED not in after
    else:
        wanted = mod.desired_values(mod.normalise_profiles(profiles)[0])
        assert {k: after[MANAGED].get(k) for k in wanted} == wanted
        assert "source_profile" not in after[MANAGED]
    if "\r\n" in text and "\n" not in text.replace("\r\n", ""):
        assert "\n" not in new_text.replace("\r\n", "")
    again, changes = mod.render(new_text, profiles)
    assert again == new_text
    assert all(c["action"] == "unchanged" for c in changes)
