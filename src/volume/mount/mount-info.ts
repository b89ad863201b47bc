// Parsing /proc/self/mountinfo (proc(5)). Reading the kernel's table directly
// is exact (findmnt reads the same file) and costs no child process, which
// matters because isMountPoint runs on every setUp and tearDown.

export interface MountInfo {
  id: number;
  parentId: number;
  /** "major:minor" of the filesystem's device. */
  majorMinor: string;
  /** The directory of the filesystem mounted here (not "/" for bind mounts of a subdirectory). */
  root: string;
  mountPoint: string;
  /** Per-mount options (ro, nosuid, …). */
  options: string[];
  /** Propagation fields such as "shared:1" or "master:2". */
  optionalFields: string[];
  fsType: string;
  source: string;
  /** Per-superblock options (size=…, mode=…). */
  superOptions: string[];
}

/** Undoes the kernel's octal escapes (\040 for space, \011, \012, \134). */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses the text of a mountinfo file; malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const result: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 10 || sep < 0 || fields.length < sep + 4) continue;
    result.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      majorMinor: fields[2],
      root: unescapeMountField(fields[3]),
      mountPoint: unescapeMountField(fields[4]),
      options: fields[5].split(','),
      optionalFields: fields.slice(6, sep),
      fsType: fields[sep + 1],
      source: unescapeMountField(fields[sep + 2]),
      superOptions: fields[sep + 3].split(','),
    });
  }
  return result;
}
