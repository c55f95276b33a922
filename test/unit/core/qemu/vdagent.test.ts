import { describe, expect, it } from 'vitest';
import { clipboardWiring } from '../../../../src/core/qemu/vdagent';

describe('clipboardWiring', () => {
  it('plugs the vdagent over QMP before QEMU 8.1 (it blocks migration there) and puts it on the command line from 8.1', () => {
    expect(clipboardWiring({ major: 7, minor: 2 })).toBe('hotplug');
    expect(clipboardWiring({ major: 8, minor: 0 })).toBe('hotplug');
    expect(clipboardWiring({ major: 8, minor: 1 })).toBe('argv');
    expect(clipboardWiring({ major: 9, minor: 0 })).toBe('argv');
  });
});
