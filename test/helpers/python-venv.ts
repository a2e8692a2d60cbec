/**
 * A virtual environment with the packages of test/contract/python/requirements.txt (the official Python
 * `openai` client and pytest): made by `npm test`'s pretest step, or here on first use. Returns its python.
 */
export { ensurePythonTestVenv as ensurePythonVenv } from '../../scripts/setup';
