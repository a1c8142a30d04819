// Jest's counterpart of esbuild's text loader: a .yaml import is the file's text.
module.exports = {
  process(source) {
    return { code: `module.exports = ${JSON.stringify(source)};` };
  },
};
