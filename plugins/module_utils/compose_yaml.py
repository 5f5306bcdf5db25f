# -*- coding: utf-8 -*-
# Copyright (c) lowmem.vps contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A Docker Compose file's per-service limits, edited line by line so comments, order and quoting stay.

The hosts have no ruamel.yaml, and PyYAML (when there at all) drops comments, so the file is never re-dumped: the
block-style text is scanned by indentation (top-level ``services:``, each service, its own keys), a limit key's value
is replaced in place (the comment after it kept), a missing one is inserted after the last limit key present or at
the end of the service's mapping. What the scanner cannot be sure of (flow style, anchors, aliases, merge keys that
may carry the key, values on continuation lines) is refused, never guessed. The result is read back with the same
scanner and, when PyYAML imports, loaded and compared with the original document plus the intended values.

:func:`plan_limits` plans the edit; :func:`check_result` is that read-back check of the edited text.
"""

from __future__ import annotations

import copy
import json
import re

from ansible_collections.lowmem.vps.plugins.module_utils.compose_rules import (
    LIMIT_KEYS, SIZE_KEYS, ComposeError, as_int, parse_size, swap_problem,
)

_DOC_MARK_RE = re.compile(r'^(?:---|\.\.\.)(?:\s|$)')
# A block-mapping key line: indentation, a quoted or plain key, a colon followed by a blank or the line's end.
_KEY_RE = re.compile(r'''^(?P<indent> *)(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|(?![-?:]\s)(?![-?:]$)[^\s#'"{}\[\],&*!|>%@`][^#]*?)'''
                     r'''(?P<colon>\s*:)(?=\s|$)(?P<rest>.*)$''')
_ALIAS_RE = re.compile(r'\*([^\s,\[\]{}]+)')


# ---------------------------------------------------------------- the line scanner

def _is_content(line):
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith('#')


def _indent(line):
    return len(line) - len(line.lstrip(' '))


def _unquote(token):
    if len(token) >= 2 and token[0] == token[-1] == '"':
        try:
            return json.loads(token)
        except ValueError:
            return token[1:-1]
    if len(token) >= 2 and token[0] == token[-1] == "'":
        return token[1:-1].replace("''", "'")
    return token


def split_value(rest):
    """What follows ``key:`` on a line (no line end) as (blank, token, tail): ``tail`` is blanks, a comment and trailing
    blanks. The token is '' when the line holds no value; None when a quoted value does not end on this line."""
    stripped = rest.lstrip()
    blank = rest[:len(rest) - len(stripped)]
    if stripped.startswith('#'):
        return blank, '', stripped
    if stripped[:1] in ('"', "'"):
        quote, index = stripped[0], 1
        while index < len(stripped):
            char = stripped[index]
            if quote == '"' and char == '\\':
                index += 2
                continue
            if char == quote:
                if quote == "'" and stripped[index + 1:index + 2] == "'":
                    index += 2
                    continue
                break
            index += 1
        else:
            return blank, None, ''
        token, tail = stripped[:index + 1], stripped[index + 1:]
        if tail.strip() and not tail.lstrip().startswith('#') or (tail.strip() and tail[:1] not in (' ', '\t')):
            return blank, None, ''
        return blank, token, tail
    match = re.search(r'[ \t]#', stripped)
    token = (stripped[:match.start()] if match else stripped).rstrip()
    return blank, token, stripped[len(token):]


def children(lines, start, end):
    """Direct children of the block mapping whose body is ``lines[start:end]``, in order: dicts with ``key`` (unquoted),
    ``line`` (index of the key line), ``last`` (index of the node's last content line), ``indent``, ``rest`` (the text after
    the colon), and ``others`` (content lines at the children's indentation that are not keys: merge ``?`` keys, items)."""
    nodes = []
    others = []
    indent = None
    for index in range(start, end):
        line = lines[index].rstrip('\r\n')
        if not _is_content(line):
            continue
        if _DOC_MARK_RE.match(line):
            break
        if indent is None:
            indent = _indent(line)
        if _indent(line) > indent:
            if nodes:
                nodes[-1]['last'] = index
            continue
        if _indent(line) < indent:
            break
        match = _KEY_RE.match(line)
        if not match or line.lstrip().startswith('- ') or line.strip() == '-':
            if nodes and line.lstrip().startswith('-'):
                nodes[-1]['last'] = index  # a sequence written at its key's indentation
            else:
                others.append(index)
            continue
        nodes.append({'key': _unquote(match.group('key').strip()), 'line': index, 'last': index, 'indent': indent,
                      'rest': match.group('rest')})
    return nodes, others


def find_services(lines):
    """(the top-level ``services`` node, its children) from the file's lines; raises ComposeError when there is none or
    it is not a block mapping."""
    top, _others = children(lines, 0, len(lines))
    found = [node for node in top if node['key'] == 'services' and node['indent'] == 0]
    if not found:
        raise ComposeError('the file has no top-level services: key')
    if len(found) > 1:
        raise ComposeError('the file has services: twice at the top level')
    node = found[0]
    _blank, token, _tail = split_value(node['rest'])
    if token:
        raise ComposeError('top-level services: is %r on its own line (flow style, an anchor or an alias): only block style '
                           'is edited; write services as an indented mapping' % token)
    services, _others = children(lines, node['line'] + 1, node['last'] + 1)
    names = [service['key'] for service in services]
    twice = sorted(set(name for name in names if names.count(name) > 1))
    if twice:
        raise ComposeError('service%s %s defined twice under services:' % ('s' if len(twice) > 1 else '', ', '.join(twice)))
    return node, services


def _anchor_block(lines, anchor):
    """The text of the node that defines ``&anchor`` (its line and the more-indented lines after it), or None."""
    pattern = re.compile(r'&%s(?=[\s,\]}]|$)' % re.escape(anchor))
    for index, line in enumerate(lines):
        if _is_content(line) and pattern.search(line.split(' #')[0]):
            block = [line]
            base = _indent(line)
            for follow in lines[index + 1:]:
                if _is_content(follow) and _indent(follow) <= base:
                    break
                block.append(follow)
            return ''.join(block)
    return None


def _scan_service(lines, service, keys):
    """What the scanner sees in one service: its children, where each limit key is and the problems that stop an edit."""
    name = service['key']
    _blank, token, _tail = split_value(service['rest'])
    if token:
        if token.startswith(('{', '[')):
            what = 'is written in flow style (%s)' % token
        elif token.startswith('*'):
            what = 'is an alias (%s) of another mapping' % token
        elif token.startswith('&'):
            what = 'carries the anchor %s, so other services may share its keys through an alias' % token.split()[0]
        else:
            what = 'has %r on its key line' % token
        raise ComposeError('service %s %s: only a block mapping without anchors is edited, the limits are not changed '
                           'rather than guessed; write the service as an indented block' % (name, what))
    nodes, others = children(lines, service['line'] + 1, service['last'] + 1)
    if others and not nodes:
        raise ComposeError('service %s is not a block mapping of keys' % name)
    found = {}
    problems = []
    for node in nodes:
        if node['key'] in LIMIT_KEYS:
            if node['key'] in found:
                problems.append('service %s sets %s twice' % (name, node['key']))
            found[node['key']] = node
    for key in keys:
        node = found.get(key)
        if node is None:
            continue
        _blank, token, _tail = split_value(node['rest'])
        if token is None or token == '' or node['last'] != node['line']:
            problems.append('service %s: %s has its value on following lines: write it on the key\'s line' % (name, key))
        elif token.startswith(('&', '*')):
            problems.append('service %s: %s is %s (an anchor or alias other keys may depend on): change it where it is '
                            'defined, or write a plain value' % (name, key, token))
        elif token[:1] in ('{', '[', '|', '>', '!'):
            problems.append('service %s: %s is %s, not a plain scalar' % (name, key, token))
    merges = [node for node in nodes if node['key'] == '<<']
    if merges:
        missing = [key for key in keys if key not in found]
        for merge in merges:
            aliases = _ALIAS_RE.findall(merge['rest'].split(' #')[0])
            if not aliases:
                problems.append('service %s: merge key <<: is not a list of aliases: its limits are not changed rather than '
                                'guessed' % name)
            for alias in aliases:
                block = _anchor_block(lines, alias)
                if block is None:
                    problems.append('service %s merges *%s, whose anchor was not found' % (name, alias))
                    continue
                carried = [key for key in missing if re.search(r'(?:^|[\s{,])%s\s*:' % key, block)]
                if carried:
                    problems.append('service %s takes %s from the merge key <<: *%s: change the value in the anchored mapping '
                                    '&%s, or set it in the service itself, rather than have it guessed here'
                                    % (name, ', '.join(carried), alias, alias))
    return nodes, found, problems


def _deploy_limits(lines, nodes):
    """The keys (memory, pids, ...) set under the service's ``deploy.resources.limits``."""
    node = next((item for item in nodes if item['key'] == 'deploy'), None)
    if node is None:
        return []
    block = ''.join(lines[node['line']:node['last'] + 1])
    path = [node]
    for key in ('resources', 'limits'):
        current = path[-1]
        inner, _others = children(lines, current['line'] + 1, current['last'] + 1)
        found = next((item for item in inner if item['key'] == key), None)
        if found is None:
            # flow style somewhere below deploy: a text search is enough for a warning
            match = re.search(r'limits\s*:\s*\{([^}]*)\}', block)
            return sorted(set(re.findall(r'(\w+)\s*:', match.group(1)))) if match else []
        path.append(found)
    limits = path[-1]
    _blank, token, _tail = split_value(limits['rest'])
    if token and token.startswith('{'):
        return sorted(set(re.findall(r'(\w+)\s*:', token)))
    inner, _others = children(lines, limits['line'] + 1, limits['last'] + 1)
    return [item['key'] for item in inner]


def _eol(line):
    return line[len(line.rstrip('\r\n')):] or '\n'


def _file_value(key, token):
    """A limit as the file has it: (typed value or None when unreadable, the text unquoted)."""
    text = _unquote(token)
    if key in SIZE_KEYS:
        if key == 'memswap_limit' and as_int(text) == -1:
            return -1, text
        try:
            return parse_size(text), text
        except ComposeError:
            return None, text
    return as_int(text), text


# ---------------------------------------------------------------- planning

def plan_limits(text, wanted):
    """Plan the edit of the compose ``text`` for ``wanted`` (from :func:`normalise_services`).

    Returns a dict: ``after`` (the new text), ``changed_services``, ``services`` ({name: effective limits as written}),
    ``typed`` (the same as bytes and ints, unreadable values such as ``${MEM}`` left out), ``written`` ({name: {key: token
    written}}), ``warnings``. Raises ComposeError listing every problem.
    """
    lines = text.splitlines(True)
    _node, services = find_services(lines)
    by_name = dict((service['key'], service) for service in services)
    missing = [name for name in wanted if name not in by_name]
    if missing:
        plural = 's' if len(missing) > 1 else ''
        raise ComposeError('service%s %s not in the file (it has: %s)'
                           % (plural, ', '.join(missing), ', '.join(sorted(by_name)) or 'none'))
    problems, warnings = [], []
    replace, insert = {}, {}
    result = dict(changed_services=[], services={}, typed={}, written={}, warnings=warnings)
    for name, limits in wanted.items():
        service = by_name[name]
        nodes, found, service_problems = _scan_service(lines, service, list(limits))
        problems.extend(service_problems)
        if service_problems:
            continue
        effective, values, sources = {}, {}, {}
        for key, node in found.items():
            token = split_value(node['rest'])[1]
            if token:
                values[key], unquoted = _file_value(key, token)
                readable = values[key] is not None
                effective[key] = values[key] if readable and (key not in SIZE_KEYS or values[key] == -1) else unquoted
                sources[key] = ' (already in the file)'
        written, new_lines = {}, []
        for key in LIMIT_KEYS:
            if key not in limits:
                continue
            token_text, value = limits[key]
            effective[key] = token_text if key in SIZE_KEYS and value != -1 else value
            sources[key] = ''
            node = found.get(key)
            if node is not None:
                _blank, token, tail = split_value(node['rest'])
                if values.get(key) == value:
                    continue  # same limit, however it is spelled: the file stays as it is
                if values.get(key) is None and '$' in token:
                    warnings.append('%s: %s was %s (interpolated by compose), now %s' % (name, key, token, token_text))
                quote = token[0] if token[:1] in ('"', "'") else ''
                new = quote + token_text + quote
                if tail[:1] in (' ', '\t') and tail.strip():
                    gap = len(tail) - len(tail.lstrip())
                    tail = ' ' * max(1, gap + len(token) - len(new)) + tail.lstrip()
                line = lines[node['line']]
                head = line.rstrip('\r\n')
                match = _KEY_RE.match(head)
                prefix = head[:match.start('rest')] + split_value(match.group('rest'))[0]
                replace[node['line']] = prefix + new + tail + _eol(line)
                written[key] = new
            else:
                new_lines.append((key, token_text))
                written[key] = token_text
            values[key] = value
        mem = values.get('mem_limit')
        swap = values.get('memswap_limit')
        problem = swap_problem(name, mem, swap, sources.get('mem_limit', ''), sources.get('memswap_limit', ''))
        if problem and ('mem_limit' in limits or 'memswap_limit' in limits):
            problems.append(problem)
            continue
        if new_lines:
            present = [found[key] for key in LIMIT_KEYS if key in found]
            after = max(node['last'] for node in present) if present else service['last']
            indent = nodes[0]['indent'] if nodes else service['indent'] + 2
            eol = _eol(lines[after]) if after < len(lines) else '\n'
            insert[after] = [' ' * indent + key + ': ' + token_text + eol for key, token_text in new_lines]
        if written:
            result['changed_services'].append(name)
            result['written'][name] = written
        result['services'][name] = dict((key, effective[key]) for key in LIMIT_KEYS if key in effective)
        result['typed'][name] = dict((key, values[key]) for key in LIMIT_KEYS if values.get(key) is not None)
        deploy = [key for key in _deploy_limits(lines, nodes) if key in ('memory', 'pids')]
        pairs = [(key, other) for key, other in (('memory', 'mem_limit'), ('pids', 'pids_limit'))
                 if key in deploy and (other in limits or other in found)]
        if pairs:
            warnings.append('%s: both %s and deploy.resources.limits.%s exist in the file; docker compose prefers '
                            'deploy.resources.limits, so the value set here may not be the one applied: keep only one'
                            % (name, ' and '.join(other for _key, other in pairs), ' and '.join(key for key, _other in pairs)))
    if problems:
        raise ComposeError('; '.join(problems))
    out = []
    for index, line in enumerate(lines):
        out.append(replace.get(index, line))
        if index in insert:
            if not out[-1].endswith(('\n', '\r')):
                out[-1] += '\n'
            out.extend(insert[index])
    result['after'] = ''.join(out)
    return result


# ---------------------------------------------------------------- checking the result

def _yaml_loader():
    try:
        import yaml
    except ImportError:
        return None

    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader that reads compose's own tags (!reset, !override) as plain values."""

    def unknown(loader, _suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor('!', unknown)
    return lambda text: list(yaml.load_all(text, Loader=Loader))  # nosec B506 - a SafeLoader subclass


def check_result(before, after, written, load=None):
    """Raise ComposeError unless ``after`` holds exactly ``before`` plus the ``written`` tokens ({service: {key: token}}).

    The scanner reads ``after`` back in any case; with PyYAML the whole document is loaded and compared too (skipped when
    ``before`` itself does not load).
    """
    lines = after.splitlines(True)
    _node, services = find_services(lines)
    by_name = dict((service['key'], service) for service in services)
    for name, keys in written.items():
        nodes, _others = children(lines, by_name[name]['line'] + 1, by_name[name]['last'] + 1)
        seen = dict((node['key'], split_value(node['rest'])[1]) for node in nodes)
        for key, token in keys.items():
            if seen.get(key) != token:
                raise ComposeError('internal check failed: %s.%s reads back as %r, not %r; the file was not changed'
                                   % (name, key, seen.get(key), token))
    load = _yaml_loader() if load is None else load
    if not load:
        return
    try:
        documents = load(before)
    except Exception:  # pylint: disable=broad-except
        return  # PyYAML cannot read the original either: compose config (validate) judges it
    try:
        result = load(after)
    except Exception as exc:  # pylint: disable=broad-except
        raise ComposeError('internal check failed: the edited file does not load as YAML (%s); the file was not changed'
                           % exc)
    expected = copy.deepcopy(documents)
    target = next((doc for doc in expected if isinstance(doc, dict) and isinstance(doc.get('services'), dict)), None)
    if target is None:
        raise ComposeError('internal check failed: PyYAML finds no services mapping; the file was not changed')
    for name, keys in written.items():
        for key, token in keys.items():
            target['services'][name][key] = load('%s: %s' % (key, token))[0][key]
    if result != expected:
        raise ComposeError('internal check failed: the edited file loads differently from the original plus the new limits; '
                           'the file was not changed')
