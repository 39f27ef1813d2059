// Every UI text comes from the dictionaries: the two languages have the
// same keys, and the components hold no hard-coded words.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { en } from './en';
import { zhCN } from './zh-CN';

function keys(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : keys(v, `${prefix}${k}.`)));
}

const componentDirs = ['pages', 'editor'].map((d) => join(__dirname, '..', d));
const textAttributes = new Set(['placeholder', 'title', 'aria-label', 'alt', 'label']);
const words = /[A-Za-z\u4e00-\u9fff]{2,}/;

function hardCoded(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isJsxText(n) && words.test(n.text)) found.push(n.text.trim());
    if (ts.isJsxAttribute(n) && textAttributes.has(n.name.getText()) && n.initializer && ts.isStringLiteral(n.initializer) && words.test(n.initializer.text)) {
      found.push(`${n.name.getText()}="${n.initializer.text}"`);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return found;
}

describe('i18n', () => {
  it('has the same keys in English and 简体中文', () => {
    expect(keys(zhCN).sort()).toEqual(keys(en).sort());
  });

  it('finds no hard-coded UI text in the components', () => {
    const offenders: string[] = [];
    for (const dir of componentDirs) {
      for (const f of readdirSync(dir)) {
        if (!f.endsWith('.tsx') || f.endsWith('.test.tsx')) continue;
        for (const text of hardCoded(join(dir, f))) offenders.push(`${f}: ${text}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
