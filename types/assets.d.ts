// esbuild's text loader (and the jest transform in test/support/text-transform.js) import these as strings.
declare module '*.yaml' {
  const text: string;
  export default text;
}
