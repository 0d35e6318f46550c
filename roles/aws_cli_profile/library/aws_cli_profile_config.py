#!/usr/bin/python
"""Manage assume-role profiles in an AWS CLI / botocore config file without disturbing anything else.

The config file is shared with people and other tools (``aws configure``, SSO helpers, hand edits), so
this module never re-renders it: it edits the lines of the managed profiles in place and leaves every
other byte alone. To know which line is what, it reads the file exactly the way botocore does
(``configparser.RawConfigParser`` rules, then ``botocore.configloader.build_profile_map``), and before
anything is renamed into place it parses the new text with botocore itself and checks the result.

The editing logic lives in plain functions (``apply_profiles`` and friends) so tests can import it
without going through Ansible.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import shlex
import stat
import sys
import tempfile
from dataclasses import dataclass, field

try:
    import botocore.configloader
    import botocore.exceptions
    import botocore.loaders
except ImportError:  # pragma: no cover - reported by main()
    botocore = None

try:
    from ansible.module_utils.basic import AnsibleModule, missing_required_lib
except ImportError:  # pragma: no cover - the pure functions are usable without Ansible
    AnsibleModule = None

DOCUMENTATION = r"""
---
module: aws_cli_profile_config
short_description: Manage assume-role profiles in an AWS config file, editing only their lines
description:
  - Adds, updates or removes C([profile NAME]) sections with C(role_arn), C(credential_source) and related
    keys in an AWS CLI / botocore config file.
  - Edits the file line by line; other sections, comments, blank lines, nested settings, key order and
    line endings stay as they were.
  - Parses the original and the new text with botocore and refuses to write anything botocore would not
    read back as asked.
  - Writes atomically (temporary file in the same directory, then rename), keeping the mode and owner of
    an existing file; creates a missing file C(0600) and a missing directory C(0700).
options:
  path:
    description:
      - Config file to edit. Empty means C(~/.aws/config) of O(owner), or of the user the module runs as
        (with C(~) taken from E(HOME)).
      - With O(owner) set, a leading C(~/) is that user's home directory.
      - C($VAR) and C(${VAR}) are expanded from the module's environment, as botocore expands them; a path that
        still holds a C($) after that (an unset variable) is refused.
    type: str
    default: ""
  owner:
    description:
      - User that owns a newly created file and directory. Empty means the user the module runs as.
      - An existing file keeps its owner.
    type: str
    default: ""
  profiles:
    description: Profiles to manage, all applied in one write.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Profile name; C(default) is the C([default]) section.
        type: str
        required: true
      state:
        description: V(absent) removes the profile's section and nothing else.
        type: str
        choices: [present, absent]
        default: present
      absent_keys:
        description:
          - Optional keys (region, output, role_session_name, duration_seconds, external_id) the profile must
            not carry; they are removed when present.
        type: list
        elements: str
        default: []
      role_arn:
        description: ARN of the role to assume. Required when O(profiles[].state=present).
        type: str
      credential_source:
        description: Where the source credentials come from. Any C(source_profile) in the profile is removed.
        type: str
        choices: [Ec2InstanceMetadata, Environment, EcsContainer]
        default: Ec2InstanceMetadata
      region:
        description: Region known to botocore. Left as it is when not given.
        type: str
      output:
        description: CLI output format. Left as it is when not given.
        type: str
        choices: [json, text, table, yaml, yaml-stream]
      role_session_name:
        description: Session name for the assumed role. Left as it is when not given.
        type: str
      duration_seconds:
        description: Session length, 900 to 3600 (role chaining caps sessions at one hour).
        type: int
      external_id:
        description: External id the target role's trust policy asks for. Left as it is when not given.
        type: str
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
requirements:
  - botocore
author:
  - aws_cli_profile role
"""

EXAMPLES = r"""
- name: Let the workload assume the Glue role through the instance role
  aws_cli_profile_config:
    profiles:
      - name: airflow-role
        role_arn: arn:aws:iam::497254257696:role/ExecuteGlueService
        credential_source: Ec2InstanceMetadata
        region: eu-west-1
"""

RETURN = r"""
path:
  description: Config file that was (or in check mode would be) edited.
  returned: always
  type: str
profiles:
  description: What changed per profile.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Profile name., type: str}
    state: {description: Requested state., type: str}
    action: {description: One of created, updated, removed, unchanged., type: str}
    keys_set: {description: Keys written or rewritten., type: list, elements: str}
    keys_removed: {description: Keys taken out of the profile., type: list, elements: str}
"""

# Settings of the managed profile, in the order they are written when added.
MANAGED_KEYS = (
    "role_arn",
    "credential_source",
    "region",
    "output",
    "role_session_name",
    "duration_seconds",
    "external_id",
)
# Keys every present profile has; absent_keys may name only the others.
REQUIRED_KEYS = ("role_arn", "credential_source")
CREDENTIAL_SOURCES = ("Ec2InstanceMetadata", "Environment", "EcsContainer")
OUTPUTS = ("json", "text", "table", "yaml", "yaml-stream")
STATES = ("present", "absent")
DURATION_MIN, DURATION_MAX = 900, 3600
# IAM's own character sets (ASCII only) for role ARNs and the two AssumeRole parameters; always fullmatch
# (``$`` would let a trailing newline through).
ROLE_ARN_RE = re.compile(r"arn:aws[-a-z]*:iam::[0-9]{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}", re.ASCII)
SESSION_NAME_RE = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
# Values of these keys never appear in the diff the module returns.
SECRET_KEYS = frozenset(("aws_secret_access_key", "aws_session_token", "aws_security_token"))
MASK = "********"
# How a refusal names the edited text, which only ever exists as a scratch copy.
CHANGED_LABEL = "the file as it would be with these profiles (a [DEFAULT] or nearby value may no longer fit)"

# configparser's own patterns (RawConfigParser.SECTCRE / OPTCRE / NONSPACECRE), repeated here so the line
# classification below agrees with what botocore reads.
SECTION_RE = re.compile(r"\[(?P<header>.+)\]")
OPTION_RE = re.compile(r"(?P<option>.*?)\s*(?P<vi>=|:)\s*(?P<value>.*)$")
NONSPACE_RE = re.compile(r"\S")
COMMENT_PREFIXES = ("#", ";")
CONFIGPARSER_DEFAULT_SECTION = "DEFAULT"
# Python's text mode (which botocore reads through) ends a line at any of these.
LINE_RE = re.compile(r"([^\r\n]*)(\r\n|\r|\n|)")


class ConfigEditError(ValueError):
    """An input or a config file this module refuses to act on; the message is meant for the user."""


@dataclass
class Line:
    """One physical line and what configparser makes of it.

    ``kind`` is one of blank, comment, header, option, continuation. ``section`` indexes the header that
    owns the line (None before the first header); ``key`` is the lower-cased option name for option lines.
    """

    text: str
    ending: str
    kind: str
    section: int | None = None
    key: str | None = None
    header: str | None = None


@dataclass
class Section:
    """A section header and the line range it owns, as configparser sees it."""

    header: str
    start: int
    end: int  # exclusive: index of the next header line, or len(lines)
    profile: str | None = None
    options: dict = field(default_factory=dict)  # key -> (first line index, last content line index)


def split_lines(text):
    """Split like Python's universal-newline reader does, keeping each line's own ending.

    ``str.splitlines`` would also break on form feeds and other separators that configparser keeps
    inside a line, so the split has to be done by hand to line up with botocore.
    """
    lines = []
    pos = 0
    while pos < len(text):
        mo = LINE_RE.match(text, pos)
        lines.append((mo.group(1), mo.group(2)))
        pos = mo.end()
    return lines


def profile_name_of_header(header):
    """Return the profile botocore's ``build_profile_map`` files this section under, or None.

    Mirrors botocore: ``default`` is a profile, anything *starting with* ``profile`` is split with
    ``shlex`` and counts only when it yields exactly two words (so ``[profile "a"]`` and ``[profile  a]``
    are profile ``a``), and every other section (including a bare ``[a]``) is not a profile at all.
    """
    if header == "default":
        return "default"
    if not header.startswith("profile"):
        return None
    try:
        parts = shlex.split(header)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None


def header_for(name):
    """Return the section header line to write for a new profile, quoting the name only when needed."""
    if name == "default":
        return "[default]"
    for candidate in (f"profile {name}", f"profile {shlex.quote(name)}"):
        if SECTION_RE.fullmatch(f"[{candidate}]") and profile_name_of_header(candidate) == name:
            return f"[{candidate}]"
    raise ConfigEditError(f"profile name {name!r} cannot be written as a section header that botocore reads back")


def scan(text):
    """Classify every line of ``text`` the way ``RawConfigParser._read`` would, and collect its sections.

    Only the rules that decide a line's role are reproduced (comment, blank, continuation by indentation,
    header, option); errors are left to botocore, which parses the original before any edit.
    """
    lines = []
    sections = []
    optname = None
    indent_level = 0
    in_section = False
    for text_part, ending in split_lines(text):
        stripped = text_part.strip()
        if stripped.startswith(COMMENT_PREFIXES):
            lines.append(Line(text_part, ending, "comment", len(sections) - 1 if sections else None))
            continue
        if not stripped:
            lines.append(Line(text_part, ending, "blank", len(sections) - 1 if sections else None))
            continue
        first = NONSPACE_RE.search(text_part)
        indent = first.start() if first else 0
        current = len(sections) - 1 if sections else None
        if in_section and optname and indent > indent_level:
            lines.append(Line(text_part, ending, "continuation", current, key=optname))
            sections[current].options[optname][1] = len(lines) - 1
            continue
        indent_level = indent
        mo = SECTION_RE.match(stripped)
        if mo:
            header = mo.group("header")
            if sections:
                sections[-1].end = len(lines)
            sections.append(Section(header, len(lines), -1, profile_name_of_header(header)))
            lines.append(Line(text_part, ending, "header", len(sections) - 1, header=header))
            in_section = True
            optname = None
            continue
        mo = OPTION_RE.match(stripped)
        if in_section and mo and mo.group("option").rstrip():
            optname = mo.group("option").rstrip().lower()
            lines.append(Line(text_part, ending, "option", current, key=optname))
            sections[current].options[optname] = [len(lines) - 1, len(lines) - 1]
            continue
        raise ConfigEditError(f"line {len(lines) + 1} is neither a section header, a setting nor a comment")
    if sections:
        sections[-1].end = len(lines)
    return lines, sections


def _format_value(value):
    """Render a value the way it appears in the file (``duration_seconds`` is an int in the input)."""
    return str(value)


def _option_value(line):
    """Return the single-line value of an option line, as configparser strips it."""
    return OPTION_RE.match(line.text.strip()).group("value").strip()


def _rewrite_option(line, value):
    """Change only the value part of an option line, keeping its indentation, key spelling and delimiter."""
    stripped = line.text.strip()
    lead = line.text[: len(line.text) - len(line.text.lstrip())]
    mo = OPTION_RE.match(stripped)
    prefix = stripped[: mo.start("value")]
    if not mo.group("value"):
        prefix = prefix.rstrip() + " "
    return Line(lead + prefix + value, line.ending, "option", line.section, key=line.key)


def normalise_profiles(profiles):
    """Validate the requested profiles and fill in defaults; raise ConfigEditError naming the bad value.

    Every check happens here, before any file is read or written, so a bad input never half-applies.
    """
    if not isinstance(profiles, list):
        raise ConfigEditError(f"profiles must be a list of dicts, got {profiles!r}")
    regions = known_regions()
    result = []
    seen = set()
    for index, raw in enumerate(profiles):
        where = f"profiles[{index}]"
        if not isinstance(raw, dict):
            raise ConfigEditError(f"{where} must be a dict, got {raw!r}")
        unknown = sorted(set(raw) - set(MANAGED_KEYS) - {"name", "state", "absent_keys"})
        if unknown:
            raise ConfigEditError(
                f"{where} has unknown keys {unknown}; valid keys are name, state, absent_keys, {MANAGED_KEYS}"
            )
        prof = {k: raw.get(k) for k in ("name", "state", "absent_keys", *MANAGED_KEYS)}
        name = prof["name"]
        check_profile_name(name, where)
        where = f"{where} ({name!r})"
        if name in seen:
            raise ConfigEditError(f"{where}: profile {name!r} is listed more than once")
        seen.add(name)
        prof["state"] = prof["state"] or "present"
        if prof["state"] not in STATES:
            raise ConfigEditError(f"{where}: state {prof['state']!r} is not one of {list(STATES)}")
        if prof["state"] == "absent":
            result.append(prof)
            continue
        prof["absent_keys"] = check_absent_keys(prof, where)
        if not prof["role_arn"]:
            raise ConfigEditError(f"{where}: role_arn is required when state is present, got {prof['role_arn']!r}")
        if not isinstance(prof["role_arn"], str) or not ROLE_ARN_RE.fullmatch(prof["role_arn"]):
            raise ConfigEditError(
                f"{where}: role_arn {prof['role_arn']!r} is not a role ARN; expected "
                "arn:aws[-partition]:iam::<12-digit account>:role/[path/]name"
            )
        prof["credential_source"] = prof["credential_source"] or "Ec2InstanceMetadata"
        if prof["credential_source"] not in CREDENTIAL_SOURCES:
            raise ConfigEditError(
                f"{where}: credential_source {prof['credential_source']!r} is not one of {list(CREDENTIAL_SOURCES)} "
                "(case-sensitive)"
            )
        if prof["region"] is not None and prof["region"] not in regions:
            raise ConfigEditError(
                f"{where}: region {prof['region']!r} is not a region botocore knows; for example us-east-1, eu-west-1"
            )
        if prof["output"] is not None and prof["output"] not in OUTPUTS:
            raise ConfigEditError(f"{where}: output {prof['output']!r} is not one of {list(OUTPUTS)}")
        duration = prof["duration_seconds"]
        if duration is not None:
            if isinstance(duration, bool) or not isinstance(duration, int):
                raise ConfigEditError(f"{where}: duration_seconds must be an integer, got {duration!r}")
            if not DURATION_MIN <= duration <= DURATION_MAX:
                raise ConfigEditError(
                    f"{where}: duration_seconds {duration} is outside {DURATION_MIN}-{DURATION_MAX}; "
                    "a role assumed from an instance role is a chained session, capped at one hour"
                )
        for key, pattern in (("role_session_name", SESSION_NAME_RE), ("external_id", EXTERNAL_ID_RE)):
            value = prof[key]
            if value is not None and (not isinstance(value, str) or not pattern.fullmatch(value)):
                raise ConfigEditError(f"{where}: {key} {value!r} does not match IAM's pattern {pattern.pattern}")
        result.append(prof)
    return result


def check_absent_keys(prof, where):
    """Return the validated ``absent_keys`` of a present profile: optional managed keys it must not carry."""
    keys = prof["absent_keys"] or []
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise ConfigEditError(f"{where}: absent_keys must be a list of key names, got {keys!r}")
    allowed = [key for key in MANAGED_KEYS if key not in REQUIRED_KEYS]
    wrong = [key for key in keys if key not in allowed]
    if wrong:
        raise ConfigEditError(f"{where}: absent_keys {wrong} are not among the optional keys {allowed}")
    both = [key for key in keys if prof.get(key) is not None]
    if both:
        raise ConfigEditError(f"{where}: {both} are both given a value and listed in absent_keys")
    return keys


def check_profile_name(name, where="profile"):
    """Refuse names that cannot be a section header, or that botocore would read back as another name."""
    if not isinstance(name, str) or not name:
        raise ConfigEditError(f"{where}: name must be a non-empty string, got {name!r}")
    if name != name.strip():
        raise ConfigEditError(f"{where}: name {name!r} has leading or trailing whitespace")
    bad = sorted({c for c in name if c in "[]" or not c.isprintable()})
    if bad:
        raise ConfigEditError(
            f"{where}: name {name!r} contains {bad}; brackets, newlines and control characters cannot be used "
            "in a section header"
        )
    header_for(name)


@functools.lru_cache(maxsize=1)
def known_regions():
    """Every region in botocore's endpoint data, across all partitions (aws, aws-cn, aws-us-gov, ...)."""
    data = botocore.loaders.create_loader().load_data("endpoints")
    return {region for partition in data["partitions"] for region in partition["regions"]}


def desired_values(prof):
    """Return the managed keys this profile entry sets, as the strings botocore will read back."""
    return {k: _format_value(prof[k]) for k in MANAGED_KEYS if prof.get(k) is not None}


def apply_profiles(text, profiles):
    """Return ``(new_text, changes)`` for ``profiles`` applied to config ``text``.

    ``profiles`` must already have passed ``normalise_profiles``. Only lines of managed profiles change:
    existing keys are rewritten in place, new keys are added after the section's last setting,
    ``source_profile`` is dropped when ``credential_source`` is set (botocore refuses both), and a
    missing section is appended at the end. Comment lines are never removed, even inside a removed
    section, because a comment above a header usually describes the *next* section.
    """
    lines, sections = scan(text)
    newline = next((ln.ending for ln in lines if ln.ending), "\n")
    changes = []
    for prof in profiles:
        lines, sections, change = _apply_one(lines, sections, prof, newline)
        changes.append(change)
    return "".join(ln.text + ln.ending for ln in lines), changes


def _apply_one(lines, sections, prof, newline):
    """Apply one profile entry; re-scanning afterwards keeps line indexes honest for the next one."""
    name = prof["name"]
    matches = [s for s in sections if s.profile == name]
    change = {"name": name, "state": prof["state"], "action": "unchanged", "keys_set": [], "keys_removed": []}
    if len(matches) > 1:
        spelled = ", ".join(f"[{s.header}] (line {s.start + 1})" for s in matches)
        raise ConfigEditError(
            f"profile {name!r} is defined by more than one section: {spelled}; botocore would use only the last. "
            "Merge them by hand, then run again"
        )
    if prof["state"] == "absent":
        if not matches:
            return lines, sections, change
        lines = _remove_section(lines, matches[0])
        change.update(action="removed")
    elif not matches:
        lines = _append_section(lines, prof, newline)
        change.update(action="created", keys_set=list(desired_values(prof)))
    else:
        lines, keys_set, keys_removed = _update_section(lines, matches[0], prof, newline)
        if keys_set or keys_removed:
            change.update(action="updated", keys_set=keys_set, keys_removed=keys_removed)
    text = "".join(ln.text + ln.ending for ln in lines)
    lines, sections = scan(text)
    return lines, sections, change


def _last_content_index(lines, section):
    """Index of the last header/option/continuation line of a section (trailing blanks/comments excluded)."""
    last = section.start
    for i in range(section.start, section.end):
        if lines[i].kind in ("header", "option", "continuation"):
            last = i
    return last


def _insert(lines, index, new_lines, newline):
    """Insert lines before ``index``, keeping a missing final newline missing.

    If the line before has no ending (it was the last line), it gets one and the last inserted line
    carries the missing final newline instead.
    """
    if index > 0 and not lines[index - 1].ending:
        lines[index - 1].ending = newline
        new_lines[-1].ending = ""
    return lines[:index] + new_lines + lines[index:]


def _indent_of(line):
    """Leading whitespace of a line, measured as configparser does (characters, a tab counts one)."""
    return line.text[: len(line.text) - len(line.text.lstrip())]


def _new_key_indent(lines, section, insert_at):
    """Pick an indentation for added keys that keeps every line's role unchanged.

    configparser treats a line indented deeper than the last key as that key's continuation, so an added
    key must be indented no deeper than the section's last key (or it would continue it) and no shallower
    than the next header (or that header would become a continuation of the added key). The last key's
    own indentation satisfies both; right after a bare header, the next header's indentation does.
    """
    keys = [ln for ln in lines[section.start : insert_at] if ln.kind == "option"]
    if keys:
        return _indent_of(keys[-1])
    following = [ln for ln in lines[insert_at:] if ln.kind in ("header", "option", "continuation")]
    return _indent_of(following[0]) if following else ""


def _update_section(lines, section, prof, newline):
    """Rewrite changed keys in place, drop ``source_profile``, append missing keys after the last setting."""
    lines = list(lines)
    keys_set, keys_removed = [], []
    drop = set()
    for key, value in desired_values(prof).items():
        span = section.options.get(key)
        if span is None:
            continue
        first, last = span
        if last == first and _option_value(lines[first]) == value:
            continue
        lines[first] = _rewrite_option(lines[first], value)
        drop.update(i for i in range(first + 1, last + 1) if lines[i].kind != "comment")
        keys_set.append(key)
    unwanted = [key for key in prof.get("absent_keys") or [] if key in section.options]
    if prof.get("credential_source") and "source_profile" in section.options:
        unwanted.append("source_profile")
    for key in unwanted:
        first, last = section.options[key]
        drop.update(i for i in range(first, last + 1) if lines[i].kind != "comment")
        keys_removed.append(key)
    missing = [k for k in desired_values(prof) if k not in section.options]
    insert_at = _last_content_index(lines, section) + 1
    indent = _new_key_indent(lines, section, insert_at)
    new_lines = [Line(f"{indent}{k} = {desired_values(prof)[k]}", newline, "option") for k in missing]
    keys_set.extend(missing)
    if new_lines:
        lines = _insert(lines, insert_at, new_lines, newline)
        drop = {i if i < insert_at else i + len(new_lines) for i in drop}
    return [ln for i, ln in enumerate(lines) if i not in drop], keys_set, keys_removed


def _append_section(lines, prof, newline):
    """Append a new section at the end of the file, separated from what is there by one blank line."""
    lines = list(lines)
    new_lines = []
    if lines:
        if not lines[-1].ending:
            lines[-1].ending = newline
        if lines[-1].kind != "blank":
            new_lines.append(Line("", newline, "blank"))
    new_lines.append(Line(header_for(prof["name"]), newline, "header"))
    new_lines.extend(Line(f"{k} = {v}", newline, "option") for k, v in desired_values(prof).items())
    return lines + new_lines


def _remove_section(lines, section):
    """Remove a section's header and settings, keeping comment lines and whatever follows its last setting.

    Blank lines right after it go too when the section was itself preceded by a blank line (or started the
    file), so removing a section does not leave a double gap.
    """
    last = _last_content_index(lines, section)
    drop = {i for i in range(section.start, last + 1) if lines[i].kind != "comment"}
    if section.start == 0 or lines[section.start - 1].kind == "blank":
        i = last + 1
        while i < section.end and lines[i].kind == "blank":
            drop.add(i)
            i += 1
    return [ln for i, ln in enumerate(lines) if i not in drop]


def _hide_secret_lines(reason):
    """Return configparser's reason for refusing a file, without the text of lines that hold secrets."""
    text = str(reason)
    if not any(key in text.lower() for key in SECRET_KEYS):
        return text
    numbers = [number for number, _line in getattr(reason, "errors", [])] or [getattr(reason, "lineno", "?")]
    return f"{type(reason).__name__} at line(s) {', '.join(map(str, numbers))} (the line holds a secret; not shown)"


def read_with_botocore(path, label=None):
    """Parse ``path`` exactly as botocore does and return ``(raw sections, profile map)``.

    Raises ConfigEditError with botocore's own reason when it cannot read the file, since the AWS CLI
    would fail on it the same way. ``label`` names the file in that message when ``path`` is a scratch copy.
    """
    try:
        raw = botocore.configloader.raw_config_parse(path)
    except botocore.exceptions.ConfigParseError as exc:
        # botocore's own message only names the file; the configparser error it wraps says why.
        reason = _hide_secret_lines(exc.kwargs.get("error", exc))
        if label:
            raise ConfigEditError(f"refusing to write: botocore could not parse {label}: {reason}") from None
        raise ConfigEditError(f"botocore (and so the AWS CLI) cannot parse {path}, not touching it: {reason}") from None
    except UnicodeDecodeError as exc:  # pragma: no cover - botocore wraps this, kept for older versions
        raise ConfigEditError(f"botocore cannot parse {path}: {exc}") from None
    return raw, botocore.configloader.build_profile_map(raw)["profiles"]


def parse_text(text, directory=None, label=None):
    """Parse ``text`` with botocore via a temporary file (botocore only reads files)."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, "config")
        with open(path, "wb") as handle:
            handle.write(text.encode("utf-8"))
        return read_with_botocore(path, label)


def verify(before_raw, after_raw, profiles):
    """Check botocore's reading of the new text against the old one; raise ConfigEditError on any surprise.

    Each managed profile must resolve to exactly the values asked for (and no ``source_profile``), each
    absent one must be gone, and every section that is not a managed profile must read exactly as before.
    """
    managed = {p["name"] for p in profiles}
    problems = []
    others_before = {h: v for h, v in before_raw.items() if profile_name_of_header(h) not in managed}
    others_after = {h: v for h, v in after_raw.items() if profile_name_of_header(h) not in managed}
    for header in sorted(set(others_before) | set(others_after)):
        if others_before.get(header) != others_after.get(header):
            problems.append(f"section [{header}] would read differently")
    profile_map = botocore.configloader.build_profile_map(after_raw)["profiles"]
    for prof in profiles:
        name = prof["name"]
        got = profile_map.get(name)
        if prof["state"] == "absent":
            if got is not None:
                problems.append(f"profile {name!r} would still be present")
            continue
        if got is None:
            problems.append(f"profile {name!r} would be missing")
            continue
        for key, value in desired_values(prof).items():
            if got.get(key) != value:
                problems.append(f"profile {name!r} would read {key} = {got.get(key)!r}, not {value!r}")
        for key in prof.get("absent_keys") or []:
            if key in got:
                problems.append(f"profile {name!r} would still read {key} = {got[key]!r}")
        if "source_profile" in got:
            problems.append(
                f"profile {name!r} would have source_profile = {got['source_profile']!r} next to credential_source "
                "(inherited from a [DEFAULT] section?)"
            )
    if problems:
        raise ConfigEditError("refusing to write: " + "; ".join(problems))


def render(text, profiles):
    """Pure end-to-end edit for tests: validate, check the original parses, edit, verify with botocore."""
    profiles = normalise_profiles(profiles)
    before_raw = parse_text(text)[0]
    new_text, changes = apply_profiles(text, profiles)
    verify(before_raw, parse_text(new_text, label=CHANGED_LABEL)[0], profiles)
    return new_text, changes


def resolve_path(path, owner):
    """Work out the config path and the owner's uid/gid.

    Without an owner, ``~`` comes from HOME as this process sees it, so a play's ``environment: HOME``
    redirects it. With an owner, ``~/`` is that user's home from the password database.
    """
    if owner:
        try:
            entry = pwd.getpwnam(owner)
        except KeyError:
            raise ConfigEditError(f"owner {owner!r} is not a user on this host") from None
        uid, gid, home = entry.pw_uid, entry.pw_gid, entry.pw_dir
    else:
        uid, gid, home = os.geteuid(), os.getegid(), os.path.expanduser("~")
    if not path:
        path = os.path.join(home, ".aws", "config")
    elif path == "~" or path.startswith("~/"):
        path = home + path[1:]
    else:
        path = os.path.expanduser(path)
    # botocore expands $VARS in the config path it is given, so the file written must be the one it reads.
    path = os.path.expandvars(path)
    if "$" in path:
        raise ConfigEditError(
            f"config path {path!r} still holds a $ after expanding variables (an unset variable?); name the file "
            "without it, since a shell or a CLI with that variable set would read another file"
        )
    return os.path.realpath(os.path.abspath(path)), uid, gid


def _make_dirs(directory, uid, gid):
    """Create missing parent directories 0700, owned by the config's owner (AWS keeps ~/.aws private)."""
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for new_dir in reversed(missing):
        os.mkdir(new_dir, 0o700)
        os.chmod(new_dir, 0o700)
        if (uid, gid) != (os.geteuid(), os.getegid()):
            os.chown(new_dir, uid, gid)


def write_atomically(path, text, before_raw, profiles, uid, gid):
    """Write ``text`` to a temporary file next to ``path``, verify it with botocore, then rename it in.

    An existing file keeps its mode and owner (the mode is never widened); a new one is 0600 and owned by
    ``uid``/``gid``. Nothing is renamed unless botocore reads the temporary file back as asked.
    """
    directory = os.path.dirname(path)
    _make_dirs(directory, uid, gid)
    try:
        st = os.stat(path)
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".config.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            if (uid, gid) != (os.geteuid(), os.getegid()):
                os.fchown(handle.fileno(), uid, gid)
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        verify(before_raw, read_with_botocore(tmp, CHANGED_LABEL)[0], profiles)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_existing(path):
    """Return the current text of ``path`` and botocore's raw reading of it, refusing files it cannot read."""
    if not os.path.exists(path):
        return "", {}
    if not os.path.isfile(path):
        raise ConfigEditError(f"{path} exists but is not a regular file")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigEditError(f"{path} is not UTF-8 text ({exc}); not touching it") from None
    return text, read_with_botocore(path)[0]


def mask_secrets(text):
    """Return ``text`` with the values of secret keys (and their continuation lines) replaced by a mask."""
    lines, _sections = scan(text)
    out = []
    for line in lines:
        if line.key in SECRET_KEYS and line.kind == "option":
            line = _rewrite_option(line, MASK)
        elif line.key in SECRET_KEYS and line.kind == "continuation":
            line = Line(line.text[: len(line.text) - len(line.text.lstrip())] + MASK, line.ending, line.kind)
        out.append(line.text + line.ending)
    return "".join(out)


def run(path, owner, profiles, check_mode):
    """Everything the module does, minus Ansible: returns the result dict (with ``diff``)."""
    profiles = normalise_profiles(profiles)
    path, uid, gid = resolve_path(path, owner)
    before, before_raw = read_existing(path)
    after, changes = apply_profiles(before, profiles)
    changed = after != before
    if changed and check_mode:
        verify(before_raw, parse_text(after, label=CHANGED_LABEL)[0], profiles)
    elif changed:
        write_atomically(path, after, before_raw, profiles, uid, gid)
    return {
        "changed": changed,
        "path": path,
        "profiles": changes,
        "diff": {
            "before": mask_secrets(before),
            "after": mask_secrets(after),
            "before_header": path,
            "after_header": path,
        },
    }


def main():
    """Thin Ansible wrapper around ``run``."""
    profile_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": list(STATES), "default": "present"},
        "role_arn": {"type": "str"},
        "credential_source": {"type": "str", "choices": list(CREDENTIAL_SOURCES), "default": "Ec2InstanceMetadata"},
        "region": {"type": "str"},
        "output": {"type": "str", "choices": list(OUTPUTS)},
        "role_session_name": {"type": "str"},
        "duration_seconds": {"type": "int"},
        "external_id": {"type": "str"},
        "absent_keys": {"type": "list", "elements": "str", "default": []},
    }
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "str", "default": ""},
            "owner": {"type": "str", "default": ""},
            "profiles": {"type": "list", "elements": "dict", "required": True, "options": profile_spec},
        },
        supports_check_mode=True,
    )
    if botocore is None:
        module.fail_json(msg=missing_required_lib("botocore"))
    try:
        result = run(module.params["path"], module.params["owner"], module.params["profiles"], module.check_mode)
    except (ConfigEditError, OSError) as exc:
        module.fail_json(msg=str(exc))
    except botocore.exceptions.BotoCoreError as exc:
        module.fail_json(msg=f"botocore refused the config file: {exc}")
    diff = result.pop("diff")
    if module._diff and result["changed"]:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
