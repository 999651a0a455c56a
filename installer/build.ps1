# Build the Windows installer: PyInstaller onedir bundle, then Inno Setup. Run from a checkout on Windows:
#   powershell -ExecutionPolicy Bypass -File installer\build.ps1
# Needs Python 3.11 (x64) on PATH as `py -3.11` and Inno Setup 6 (iscc.exe). See installer/README.md.
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root

if (-not (Test-Path .venv\Scripts\python.exe)) { py -3.11 -m venv .venv }
$Py = ".venv\Scripts\python.exe"
& $Py -m pip install -q --upgrade pip
$plugins = Get-ChildItem plugins -Directory | Where-Object { Test-Path "$($_.FullName)\pyproject.toml" } |
  ForEach-Object { "-e", $_.FullName }
& $Py -m pip install -q -e ".[postgres]" @plugins "pyinstaller>=6.10"
if ($LASTEXITCODE) { throw "pip install failed" }

& $Py -m PyInstaller --noconfirm --clean --distpath dist --workpath build\installer\pyinstaller installer\benchlink.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }

# the bundle must start before it is packaged
$env:BENCHLINK_HOME = Join-Path $env:TEMP "benchlink-build-check"
$env:BENCHLINK_KEY_FILE = Join-Path $env:BENCHLINK_HOME "db.key"
$env:QT_QPA_PLATFORM = "offscreen"
& dist\benchlink\benchlink.exe doctor
if ($LASTEXITCODE) { throw "the frozen doctor failed" }
Remove-Item -Recurse -Force $env:BENCHLINK_HOME

$Version = & $Py -c "import benchlink; print(benchlink.__version__)"
$Iscc = @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe", "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe",
          "$env:ProgramFiles\Inno Setup 6\ISCC.exe") | Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $Iscc) { throw "Inno Setup 6 not found: install it (winget install JRSoftware.InnoSetup)" }
& $Iscc "/DAppVersion=$Version" installer\benchlink.iss
if ($LASTEXITCODE) { throw "iscc failed" }
Write-Host "installer: dist\installer\benchlink-$Version-setup.exe"
