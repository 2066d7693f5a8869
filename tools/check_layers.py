#!/usr/bin/env python3
# SPDX-License-Identifier: EPL-2.0 OR BSD-3-Clause
"""Every #include between the plugin's folders points down the data flow.

The folders, top first, are ranked below (docs/ARCHITECTURE.md explains the
order). A file may include headers of its own folder or of a folder ranked
below it, never above. Exits 1 and names each offending line otherwise.
"""
import os
import re
import sys

# Highest first: a folder may include only folders after it in this list.
LAYERS = ['plugin', 'cluster', 'api', 'autosub', 'events', 'acl', 'auth',
          'registry', 'core']
RANK = {name: len(LAYERS) - i for i, name in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')


def main(root):
    bad = []
    for folder in LAYERS:
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith(('.c', '.h')):
                continue
            src = os.path.join(folder, name)
            with open(os.path.join(root, src), encoding='utf-8') as fh:
                for lineno, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    if target not in RANK:
                        bad.append('%s:%d: includes %s/, which is not a plugin folder'
                                   % (src, lineno, target))
                    elif RANK[target] > RANK[folder]:
                        bad.append('%s:%d: %s/ includes %s/, which is above it'
                                   % (src, lineno, folder, target))
    for line in bad:
        print(line)
    if bad:
        print('check_layers: %d include(s) point up; order is %s'
              % (len(bad), ' > '.join(LAYERS)))
        return 1
    print('check_layers: every include points down (%s)' % ' > '.join(LAYERS))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')))
