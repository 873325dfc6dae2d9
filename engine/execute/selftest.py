"""A built-in self-test suite (two problems per language, in the HumanEvalPack layout of each
language, each with a correct and a buggy solution) for `workbench eval doctor` when no
HumanEvalPack copy is at hand. The second problem of each language needs the dependencies the
real benchmark needs (js-md5, OpenSSL, testify, the rand/regex/md5 crates)."""

from __future__ import annotations

from engine.problems.model import Problem

_GO_SETUP = 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
_RUST_HEAD = "\nuse rand::Rng;\nuse regex::Regex;\nuse md5;\n\n"


def _p(lang: str, i: int, prompt: str, good: str, bad: str, test: str, entry: str, **kw: str) -> Problem:
    return Problem(
        task_id=f"selftest/{lang}/{i}",
        language=lang,
        suite="humanevalpack",
        prompt=prompt,
        entry_point=entry,
        test=test,
        canonical_solution=good,
        buggy_solution=bad,
        declaration=kw.get("declaration", ""),
        test_setup=kw.get("test_setup", ""),
        source="builtin:selftest",
    )


def problems() -> list[Problem]:
    return [
        _p(
            "python",
            0,
            'def sum_to(n: int) -> int:\n    """1 + 2 + ... + n"""\n',
            "    return n * (n + 1) // 2\n",
            "    return n * (n - 1) // 2\n",
            "\n\ndef check(candidate):\n    assert candidate(1) == 1\n    assert candidate(4) == 10\n"
            "    assert candidate(10) == 55\n\ncheck(sum_to)\n",
            "sum_to",
        ),
        _p(
            "python",
            1,
            'def string_to_md5(text):\n    """md5 hex digest of text; None for ""."""\n',
            "    import hashlib\n    return hashlib.md5(text.encode('ascii')).hexdigest() if text else None\n",
            "    import hashlib\n    return hashlib.md5(text.upper().encode('ascii')).hexdigest() if text else None\n",
            "\n\ndef check(candidate):\n    assert candidate('Hello world') == '3e25960a79dbc69b674cd4ec67a72c62'\n"
            "    assert candidate('') == None\n    assert np.sum(np.array([1, 2])) == 3\n\ncheck(string_to_md5)\n",
            "string_to_md5",
        ),
        _p(
            "javascript",
            0,
            "/* 1 + 2 + ... + n */\nconst sumTo = (n) => {\n",
            "  return n * (n + 1) / 2;\n}\n",
            "  return n * (n - 1) / 2;\n}\n",
            "const testSumTo = () => {\n  console.assert(sumTo(1) === 1)\n  console.assert(sumTo(4) === 10)\n"
            "  console.assert(sumTo(10) === 55)\n}\n\ntestSumTo()\n",
            "sumTo",
        ),
        _p(
            "javascript",
            1,
            "/* md5 hex digest of text; null for '' */\nconst stringToMd5 = (text) => {\n",
            "  if (text == '') { return null }\n  var md5 = require('js-md5')\n  return md5(text)\n}\n",
            "  if (text == '') { return null }\n  var md5 = require('js-md5')\n  return md5(text + ' ')\n}\n",
            "const testStringToMd5 = () => {\n  console.assert(stringToMd5('Hello world') === "
            "'3e25960a79dbc69b674cd4ec67a72c62')\n  console.assert(stringToMd5('') === null)\n}\n\ntestStringToMd5()\n",
            "stringToMd5",
        ),
        _p(
            "java",
            0,
            "import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    public int sumTo(int n) {\n",
            "        return n * (n + 1) / 2;\n    }\n}",
            "        return n * (n - 1) / 2;\n    }\n}",
            "public class Main {\n    public static void main(String[] args) {\n        Solution s = new Solution();\n"
            "        List<Boolean> correct = Arrays.asList(\n                s.sumTo(1) == 1,\n"
            "                s.sumTo(4) == 10,\n                s.sumTo(10) == 55\n        );\n"
            "        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n    }\n}\n",
            "sumTo",
        ),
        _p(
            "java",
            1,
            "import java.math.BigInteger;\nimport java.security.*;\nimport java.util.*;\nimport java.lang.*;\n\n"
            "class Solution {\n    public Optional<String> stringToMd5(String text) throws NoSuchAlgorithmException {\n",
            "        if (text.isEmpty()) {\n            return Optional.empty();\n        }\n"
            "        String md5 = new BigInteger(1, MessageDigest.getInstance(\"MD5\").digest(text.getBytes())).toString(16);\n"
            "        md5 = \"0\".repeat(32 - md5.length()) + md5;\n        return Optional.of(md5);\n    }\n}",
            "        if (text.isEmpty()) {\n            return Optional.empty();\n        }\n"
            "        String md5 = new BigInteger(1, MessageDigest.getInstance(\"MD5\").digest(text.getBytes())).toString(16);\n"
            "        return Optional.of(md5.toUpperCase());\n    }\n}",
            "public class Main {\n    public static void main(String[] args) throws NoSuchAlgorithmException {\n"
            "        Solution s = new Solution();\n        List<Boolean> correct = Arrays.asList(\n"
            "                s.stringToMd5(\"Hello world\").get().equals(\"3e25960a79dbc69b674cd4ec67a72c62\"),\n"
            "                s.stringToMd5(\"\").isEmpty(),\n"
            "                s.stringToMd5(\"password\").get().equals(\"5f4dcc3b5aa765d61d8327deb882cf99\")\n        );\n"
            "        if (correct.contains(false)) {\n            throw new AssertionError();\n        }\n    }\n}\n",
            "stringToMd5",
        ),
        _p(
            "cpp",
            0,
            "/* 1 + 2 + ... + n */\n#include<stdio.h>\nusing namespace std;\nint sum_to(int n){\n",
            "    return n * (n + 1) / 2;\n}\n",
            "    return n * (n - 1) / 2;\n}\n",
            "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (sum_to(1) == 1);\n    assert (sum_to(4) == 10);\n"
            "    assert (sum_to(10) == 55);\n}\n",
            "sum_to",
        ),
        _p(
            "cpp",
            1,
            "#include<stdio.h>\n#include<string>\n#include<openssl/md5.h>\nusing namespace std;\n"
            "string string_to_md5(string text){\n",
            "    if (text.length()==0) return \"None\";\n    unsigned char md[16];\n"
            "    MD5((unsigned char*)text.c_str(), text.length(), md);\n    char out[33];\n"
            "    for (int i=0;i<16;i++) sprintf(out+2*i, \"%02x\", md[i]);\n    return string(out);\n}\n",
            "    if (text.length()==0) return \"None\";\n    unsigned char md[16];\n"
            "    MD5((unsigned char*)text.c_str(), text.length() - 1, md);\n    char out[33];\n"
            "    for (int i=0;i<16;i++) sprintf(out+2*i, \"%02x\", md[i]);\n    return string(out);\n}\n",
            "#undef NDEBUG\n#include<assert.h>\nint main(){\n"
            "    assert (string_to_md5(\"Hello world\") == \"3e25960a79dbc69b674cd4ec67a72c62\");\n"
            "    assert (string_to_md5(\"\") == \"None\");\n    boost::any a = 1;\n    assert (boost::any_cast<int>(a) == 1);\n}\n",
            "string_to_md5",
        ),
        _p(
            "go",
            0,
            "\n// 1 + 2 + ... + n\nfunc SumTo(n int) int {\n",
            "    return n * (n + 1) / 2\n}\n",
            "    return n * (n - 1) / 2\n}\n",
            "func TestSumTo(t *testing.T) {\n    assert := assert.New(t)\n    assert.Equal(1, SumTo(1))\n"
            "    assert.Equal(10, SumTo(4))\n    assert.Equal(55, SumTo(10))\n}\n",
            "SumTo",
            test_setup=_GO_SETUP,
        ),
        _p(
            "go",
            1,
            "import (\n    \"crypto/md5\"\n    \"fmt\"\n)\n\n// md5 hex digest of text; nil for \"\"\n"
            "func StringToMd5(text string) interface{} {\n",
            "    if text == \"\" {\n        return nil\n    }\n    return fmt.Sprintf(\"%x\", md5.Sum([]byte(text)))\n}\n",
            "    if text == \"\" {\n        return nil\n    }\n    return fmt.Sprintf(\"%x\", md5.Sum([]byte(text + \" \")))\n}\n",
            "func TestStringToMd5(t *testing.T) {\n    assert := assert.New(t)\n"
            "    assert.Equal(\"3e25960a79dbc69b674cd4ec67a72c62\", StringToMd5(\"Hello world\"))\n"
            "    assert.Equal(nil, StringToMd5(\"\"))\n    assert.Equal(\"HI\", strings.ToUpper(\"hi\"))\n}\n",
            "StringToMd5",
            test_setup='package main\n\nimport (\n    "testing"\n    "strings"\n'
            '    "github.com/stretchr/testify/assert"\n)\n',
        ),
        _p(
            "rust",
            0,
            "fn main(){}\n" + _RUST_HEAD + "fn sum_to(n: i32) -> i32 {\n",
            "    n * (n + 1) / 2\n}\n",
            "    n * (n - 1) / 2\n}\n",
            "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_sum_to() {\n"
            "        assert_eq!(sum_to(1), 1);\n        assert_eq!(sum_to(4), 10);\n        assert!(sum_to(10) == 55);\n"
            "    }\n}\n",
            "sum_to",
            declaration=_RUST_HEAD + "fn sum_to(n: i32) -> i32 {\n",
        ),
        _p(
            "rust",
            1,
            "fn main(){}\n" + _RUST_HEAD + "fn string_to_md5(text: &str) -> String {\n",
            "    if text.is_empty() {\n        return \"None\".to_string();\n    }\n"
            "    let re = Regex::new(r\"^[ -~]*$\").unwrap();\n    assert!(re.is_match(text));\n"
            "    format!(\"{:x}\", md5::compute(text.as_bytes()))\n}\n",
            "    if text.is_empty() {\n        return \"None\".to_string();\n    }\n"
            "    format!(\"{:x}\", md5::compute(text.to_uppercase().as_bytes()))\n}\n",
            "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_string_to_md5() {\n"
            "        let mut rng = rand::thread_rng();\n        let k: i32 = rng.gen_range(0, 4);\n        assert!(k >= 0 && k < 4);\n"
            "        assert_eq!(string_to_md5(\"Hello world\"), \"3e25960a79dbc69b674cd4ec67a72c62\");\n"
            "        assert_eq!(string_to_md5(\"\"), \"None\");\n    }\n}\n",
            "string_to_md5",
            declaration=_RUST_HEAD + "fn string_to_md5(text: &str) -> String {\n",
        ),
    ]
